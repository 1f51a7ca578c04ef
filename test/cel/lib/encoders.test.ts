/**
 * The encoders extension. Expected values come from the cel-go docs (ext/README.md,
 * "Encoders") and the cel-spec conformance file encoders_ext.textproto, which accepts
 * unpadded input as cel-go's implementation does.
 */
import { CelError } from '../../../src/cel/index.js';
import { celHarness } from '../harness.js';

const { env, run, failure } = celHarness({ s: 'string', data: 'bytes' });
const bytes = (text: string) => new Uint8Array(Buffer.from(text));

describe('base64.encode', () => {
  it('encodes bytes with padding (README: base64.encode(b"hello") returns "aGVsbG8=")', () => {
    expect(run("base64.encode(b'hello')")).toBe('aGVsbG8=');
    expect(run("base64.encode(b'')")).toBe('');
    expect(run('base64.encode(data)', { data: new Uint8Array([0xfb, 0xff]) })).toBe('+/8=');
  });

  it('accepts only bytes', () => {
    expect(() => env.compile("base64.encode('hello')")).toThrow(/no matching overload/);
  });
});

describe('base64.decode', () => {
  it('decodes padded and unpadded input (README; encoders_ext.textproto hello_without_padding)', () => {
    expect(run("base64.decode('aGVsbG8=')")).toEqual(bytes('hello'));
    expect(run("base64.decode('aGVsbG8')")).toEqual(bytes('hello'));
    expect(run("base64.decode('')")).toEqual(new Uint8Array());
    expect(run("base64.decode('+/8=')")).toEqual(new Uint8Array([0xfb, 0xff]));
  });

  it('round-trips (encoders_ext.textproto round_trip)', () => {
    expect(run("base64.decode(base64.encode(b'Hello World!'))")).toEqual(bytes('Hello World!'));
  });

  it('ignores line breaks as Go does', () => {
    expect(run('base64.decode(s)', { s: 'aGVs\r\nbG8=' })).toEqual(bytes('hello'));
  });

  it('rejects what Go rejects, with its message', () => {
    expect(failure("base64.decode('aGVs*G8=')").summary).toBe('illegal base64 data at input byte 4');
    expect(failure("base64.decode('aGVsbG8-')").summary).toBe('illegal base64 data at input byte 7');
    expect(failure("base64.decode('a')").summary).toMatch(/^illegal base64 data at input byte \d+$/);
    expect(failure("base64.decode('aGVsbG8==')").summary).toMatch(/^illegal base64 data/);
    expect(failure("base64.decode('a=bc')").summary).toMatch(/^illegal base64 data/);
    expect(failure("base64.decode('====')").summary).toMatch(/^illegal base64 data/);
  });

  it('accepts only strings', () => {
    expect(() => env.compile("base64.decode(b'aGVsbG8=')")).toThrow(/no matching overload/);
  });
});
