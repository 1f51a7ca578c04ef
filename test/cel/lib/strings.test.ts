/**
 * The strings extension. Expected values come from the cel-go strings extension docs
 * (github.com/google/cel-go ext/README.md, "Strings") and the cel-spec conformance file
 * string_ext.textproto; where they disagree with Kubernetes' vendored cel-go, the test
 * says which one it follows.
 */
import { CelError, CostMeter, fromJson } from '../../../src/cel/index.js';
import { celHarness } from '../harness.js';

const { env, run, failure } = celHarness({ object: 'dyn', s: 'string' });

describe('charAt', () => {
  it('returns the character at a code point index (README: CharAt)', () => {
    expect(run("'hello'.charAt(4)")).toBe('o');
    expect(run("'hello'.charAt(5)")).toBe('');
    // string_ext.textproto char_at/multiple
    expect(run("'©αT'.charAt(0) == '©' && '©αT'.charAt(1) == 'α' && '©αT'.charAt(2) == 'T'")).toBe(true);
    expect(run("'a😀b'.charAt(1)")).toBe('😀');
    expect(run("'a😀b'.charAt(2)")).toBe('b');
  });

  it('rejects negative and too large indices (README: "hello".charAt(-1) // error)', () => {
    expect(failure("'hello'.charAt(-1)").summary).toBe('index out of range: -1');
    expect(failure("'tacocat'.charAt(30)").summary).toBe('index out of range: 30');
  });
});

describe('indexOf', () => {
  it('finds the first occurrence (README: IndexOf)', () => {
    expect(run("'hello mellow'.indexOf('')")).toBe(0n);
    expect(run("'hello mellow'.indexOf('ello')")).toBe(1n);
    expect(run("'hello mellow'.indexOf('jello')")).toBe(-1n);
    expect(run("'hello mellow'.indexOf('', 2)")).toBe(2n);
    expect(run("'hello mellow'.indexOf('ello', 2)")).toBe(7n);
  });

  it('counts code points, not UTF-16 units (string_ext.textproto index_of)', () => {
    expect(run("'ta©o©αT'.indexOf('©', 3)")).toBe(4n);
    expect(run("'ta©o©αT'.indexOf('©αT', 3)")).toBe(4n);
    expect(run("'ta©o©αT'.indexOf('©α', 5)")).toBe(-1n);
    expect(run("'a😀b😀c'.indexOf('b')")).toBe(2n);
    expect(run("'a😀b😀c'.indexOf('😀', 2)")).toBe(3n);
  });

  it('rejects an offset outside the string (string_ext.textproto indexof_out_of_range)', () => {
    expect(failure("'hello mellow'.indexOf('ello', 20)").summary).toBe('index out of range: 20');
    expect(failure("'tacocat'.indexOf('a', -1)").summary).toBe('index out of range: -1');
  });

  it('works on dyn values and rejects non-strings at run time', () => {
    const object = fromJson({ name: 'web-😀-1', n: 4 });
    expect(run("object.name.indexOf('-1')", { object })).toBe(5n);
    expect(failure("object.name.indexOf(object.n)", { object }).summary).toMatch(/no such overload/);
  });
});

describe('lastIndexOf', () => {
  it('finds the last occurrence (README: LastIndexOf)', () => {
    expect(run("'hello mellow'.lastIndexOf('')")).toBe(12n);
    expect(run("'hello mellow'.lastIndexOf('ello')")).toBe(7n);
    expect(run("'hello mellow'.lastIndexOf('jello')")).toBe(-1n);
    expect(run("'hello mellow'.lastIndexOf('ello', 6)")).toBe(1n);
    // string_ext.textproto last_index_of
    expect(run("'bananananana'.lastIndexOf('nana', 7)")).toBe(6n);
    expect(run("'ta©o©αT'.lastIndexOf('©', 3)")).toBe(2n);
    expect(run("'ta©o©αT'.lastIndexOf('©α', 4)")).toBe(4n);
    expect(run("'a😀b😀c'.lastIndexOf('😀')")).toBe(3n);
  });

  it('returns -1 on an empty receiver (string_ext.textproto empty_string; Kubernetes cel-go errors)', () => {
    expect(run("''.lastIndexOf('@@')")).toBe(-1n);
  });

  it('rejects offsets outside the string (README: lastIndexOf("ello", -1) // error)', () => {
    expect(failure("'hello mellow'.lastIndexOf('ello', -1)").summary).toBe('index out of range: -1');
    expect(failure("'tacocat'.lastIndexOf('a', 30)").summary).toBe('index out of range: 30');
  });
});

describe('lowerAscii and upperAscii', () => {
  it('change ASCII letters only (README: LowerAscii, UpperAscii)', () => {
    expect(run("'TacoCat'.lowerAscii()")).toBe('tacocat');
    expect(run("'TacoCÆt Xii'.lowerAscii()")).toBe('tacocÆt xii');
    expect(run("'TacoCat'.upperAscii()")).toBe('TACOCAT');
    expect(run("'TacoCÆt Xii'.upperAscii()")).toBe('TACOCÆT XII');
    expect(run("'tacoCαt'.upperAscii()")).toBe('TACOCαT');
    expect(run("'ÉCOLE'.lowerAscii()")).toBe('École');
  });

  it('reject non-strings at run time', () => {
    expect(failure('object.lowerAscii()', { object: 1n }).summary).toMatch(/no such overload/);
  });
});

describe('replace', () => {
  it('replaces all or a limited number of occurrences (README: Replace)', () => {
    expect(run("'hello hello'.replace('he', 'we')")).toBe('wello wello');
    expect(run("'hello hello'.replace('he', 'we', -1)")).toBe('wello wello');
    expect(run("'hello hello'.replace('he', 'we', 1)")).toBe('wello hello');
    expect(run("'hello hello'.replace('he', 'we', 0)")).toBe('hello hello');
    expect(run("'hello hello'.replace('h', '')")).toBe('ello ello');
  });

  it('inserts between code points when the search is empty (cel-go strings.go doc)', () => {
    expect(run("'hello hello'.replace('', '_')")).toBe('_h_e_l_l_o_ _h_e_l_l_o_');
    expect(run("'a😀'.replace('', '-')")).toBe('-a-😀-');
    expect(run("'a😀'.replace('', '-', 2)")).toBe('-a-😀');
  });

  it('handles unicode and chaining (string_ext.textproto replace)', () => {
    expect(run("'1 ©αT taco'.replace('αT', 'o©α')")).toBe('1 ©o©α taco');
    expect(run("'{0} days {0} hours'.replace('{0}', '2', 1).replace('{0}', '23')")).toBe('2 days 23 hours');
  });

  it('rejects wrong argument types at compile time', () => {
    expect(() => env.compile("'42'.replace(2, 1)")).toThrow(/no matching overload/);
  });
});

describe('split', () => {
  it('splits with and without a limit (README: Split)', () => {
    expect(run("'hello hello hello'.split(' ')")).toEqual(['hello', 'hello', 'hello']);
    expect(run("'hello hello hello'.split(' ', 0)")).toEqual([]);
    expect(run("'hello hello hello'.split(' ', 1)")).toEqual(['hello hello hello']);
    expect(run("'hello hello hello'.split(' ', 2)")).toEqual(['hello', 'hello hello']);
    expect(run("'hello hello hello'.split(' ', -1)")).toEqual(['hello', 'hello', 'hello']);
    expect(run("'o©o©o©o'.split('©', -1)")).toEqual(['o', 'o', 'o', 'o']);
  });

  it('splits on code points when the separator is empty (Go strings.Split)', () => {
    expect(run("'a😀b'.split('')")).toEqual(['a', '😀', 'b']);
    expect(run("'a😀bc'.split('', 2)")).toEqual(['a', '😀bc']);
    expect(run("''.split('')")).toEqual([]);
    expect(run("''.split(',')")).toEqual(['']);
  });
});

describe('substring', () => {
  it('takes code point ranges (README: Substring)', () => {
    expect(run("'tacocat'.substring(4)")).toBe('cat');
    expect(run("'tacocat'.substring(0, 4)")).toBe('taco');
    expect(run("'tacocat'.substring(7)")).toBe('');
    expect(run("'ta©o©αT'.substring(2, 6)")).toBe('©o©α');
    expect(run("'a😀b'.substring(1, 2)")).toBe('😀');
  });

  it('rejects bad ranges with cel-go messages (string_ext.textproto value_errors)', () => {
    expect(failure("'tacocat'.substring(-1)").summary).toBe('index out of range: -1');
    expect(failure("'tacocat'.substring(40)").summary).toBe('index out of range: 40');
    expect(failure("'tacocat'.substring(1, 50)").summary).toBe('index out of range: 50');
    expect(failure("'tacocat'.substring(49, 50)").summary).toBe('index out of range: 49');
    expect(failure("'tacocat'.substring(2, 1)").summary).toBe('invalid substring range. start: 2, end: 1');
  });
});

describe('trim', () => {
  it('removes Unicode white space but not zero-width characters (README: Trim)', () => {
    expect(run("'  \\ttrim\\n    '.trim()")).toBe('trim');
    expect(run("' \\f\\n\\r\\t\\vtext  '.trim()")).toBe('text');
    expect(run("'\\u0085\\u00a0\\u1680text'.trim()")).toBe('text');
    expect(run("'\\u200atext\\u2028\\u2029\\u202F\\u205F\\u3000'.trim()")).toBe('text');
    expect(run("'\\u180etext\\u200b\\u200c\\u200d\\u2060\\ufeff'.trim()")).toBe(
      '\u180etext\u200b\u200c\u200d\u2060\ufeff',
    );
  });
});

describe('join', () => {
  it('concatenates a list of strings (README: Join)', () => {
    expect(run("['hello', 'mellow'].join()")).toBe('hellomellow');
    expect(run("['hello', 'mellow'].join(' ')")).toBe('hello mellow');
    expect(run('[].join()')).toBe('');
    expect(run("[].join('/')")).toBe('');
  });

  it('rejects a dyn list holding something else than strings', () => {
    const object = fromJson({ parts: ['a', 1] });
    expect(failure("object.parts.join('-')", { object }).summary).toBe('join: invalid input: int');
  });
});

describe('strings.quote', () => {
  it('escapes CEL escape sequences (README: Quote; string_ext.textproto quote)', () => {
    expect(run("strings.quote('single-quote with \"double quote\"')")).toBe('"single-quote with \\"double quote\\""');
    expect(run('strings.quote("two escape sequences \\a\\n")')).toBe('"two escape sequences \\a\\n"');
    expect(run('strings.quote("\\bbackspace\\f\\r\\t\\v")')).toBe('"\\bbackspace\\f\\r\\t\\v"');
    expect(run('strings.quote("double \\\\\\\\ slash")')).toBe('"double \\\\\\\\ slash"');
    expect(run('strings.quote("printable unicode😀")')).toBe('"printable unicode😀"');
    expect(run('strings.quote("")')).toBe('""');
  });

  it('replaces a lone surrogate with U+FFFD', () => {
    expect(run('strings.quote(s)', { s: 'a\uD800b' })).toBe('"a\uFFFDb"');
  });
});

describe('reverse', () => {
  it('reverses code points (README: Reverse; string_ext.textproto reverse)', () => {
    expect(run("'gums'.reverse()")).toBe('smug');
    expect(run("'John Smith'.reverse()")).toBe('htimS nhoJ');
    expect(run("'Ta©oCαt'.reverse()")).toBe('tαCo©aT');
    expect(run("'a😀b'.reverse()")).toBe('b😀a');
    expect(run("''.reverse()")).toBe('');
  });
});

describe('format', () => {
  it('substitutes each clause (cel-go strings.go Format doc; string_ext.textproto format)', () => {
    expect(run('"this is a string: %s\\nand an integer: %d".format(["str", 42])')).toBe(
      'this is a string: str\nand an integer: 42',
    );
    expect(run('"%% and also %%".format([])')).toBe('% and also %');
    expect(run('"%%%s%%".format(["text"])')).toBe('%text%');
    expect(run('"%s %d %f %.2f %e %x %X %o %b".format(["a", 7, 3.14, 2.005, 2.71828, 26, 26, 30, 5])')).toBe(
      'a 7 3.140000 2.00 2.718280e+00 1a 1A 36 101',
    );
  });

  it('rounds fixed and scientific clauses exactly, ties to even (string_ext.textproto)', () => {
    expect(run('"%.3f".format([1.2345])')).toBe('1.234');
    expect(run('"%.0f %.0f %.0f".format([1.5, 2.5, 3.5001])')).toBe('2 2 4');
    expect(run('"%.3f %.3f".format([-123.4999, -123.4994])')).toBe('-123.500 -123.499');
    expect(run('"%.5f".format([-1.2])')).toBe('-1.20000');
    expect(run('"%.6e".format([1052.032911275])')).toBe('1.052033e+03');
    expect(run('"%.2e %.0e".format([0.000123456, 9.99])')).toBe('1.23e-04 1e+01');
    expect(run('"%f %e".format([2, 3u])')).toBe('2.000000 3.000000e+00');
  });

  it('spells special doubles the CEL way (string_ext.textproto)', () => {
    expect(run('"%f %e %d %s".format([double("NaN"), double("Infinity"), double("-Infinity"), double("NaN")])')).toBe(
      'NaN Infinity -Infinity NaN',
    );
  });

  it('formats every value kind with %s (string_ext.textproto)', () => {
    expect(run('"%s".format([null])')).toBe('null');
    expect(run('"%s".format([b"xyz"])')).toBe('xyz');
    expect(run('"%s".format([type("test string")])')).toBe('string');
    expect(run('"%s".format([timestamp("2023-02-03T23:31:20+00:00")])')).toBe('2023-02-03T23:31:20Z');
    expect(run('"%s".format([duration("1h45m47s")])')).toBe('6347s');
    expect(run('"%s".format([["abc", 3.14, null, [9, 8, 7, 6], timestamp("2023-02-03T23:31:20Z")]])')).toBe(
      '[abc, 3.14, null, [9, 8, 7, 6], 2023-02-03T23:31:20Z]',
    );
    expect(run('"%s".format([{"key1": b"xyz", "key5": null, "key2": duration("2h"), "key4": true, "key3": 2.71828}])')).toBe(
      '{key1: xyz, key2: 7200s, key3: 2.71828, key4: true, key5: null}',
    );
    expect(run('"%s".format([{1: "value1", uint(2): "value2", true: double("NaN")}])')).toBe('{1: value1, 2: value2, true: NaN}');
    expect(run('"%s, %s".format([dyn(32), dyn(56.8)])')).toBe('32, 56.8');
    expect(run('"%s".format([1e21])')).toBe('1000000000000000000000');
  });

  it('formats strings and bytes as hex (string_ext.textproto)', () => {
    expect(run('"%x".format(["Hello world!"])')).toBe('48656c6c6f20776f726c6421');
    expect(run('"%X".format([b"byte string"])')).toBe('6279746520737472696E67');
    expect(run('"%x %b %o".format([-30, -5, -11])')).toBe('-1e -101 -13');
  });

  it('reports cel-go errors for wrong argument types (string_ext.textproto format_errors)', () => {
    expect(failure('"%a".format([1])').summary).toBe('could not parse formatting clause: unrecognized formatting clause "a"');
    expect(failure('"%d %d %d".format([0, 1])').summary).toBe('index 2 out of range');
    expect(failure('"string is %b".format(["abc"])').summary).toBe(
      'error during formatting: only integers and bools can be formatted as binary, was given string',
    );
    expect(failure('"%d".format([duration("30m2s")])').summary).toBe(
      'error during formatting: decimal clause can only be used on integers, was given google.protobuf.Duration',
    );
    expect(failure('"octal: %o".format(["a string"])').summary).toBe(
      'error during formatting: octal clause can only be used on integers, was given string',
    );
    expect(failure('"double is %x".format([0.5])').summary).toBe(
      'error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given double',
    );
    expect(failure('"null: %f".format([null])').summary).toBe(
      'error during formatting: fixed-point clause can only be used on doubles, was given null_type',
    );
    expect(failure('"null: %e".format([null])').summary).toBe(
      'error during formatting: scientific clause can only be used on doubles, was given null_type',
    );
    expect(failure('"%s".format([optional.of(1)])').summary).toMatch(/^error during formatting: string clause can only be used on/);
    expect(failure('"%.f".format([1.0])').summary).toMatch(/^could not parse formatting clause: error while parsing precision/);
    expect(failure('"%.2".format([1.0])').summary).toMatch(/could not find end of precision specifier/);
    expect(failure('"50%".format([1])').summary).toBe('unexpected end of string');
  });

  it('works on a format string held in a variable', () => {
    expect(run('s.format([5])', { s: '%b' })).toBe('101');
  });
});

describe('cost', () => {
  it('charges string scans by length', () => {
    const s = 'x'.repeat(100_000);
    const meter = new CostMeter();
    env.compile("s.indexOf('y')").evaluate({ s }, { meter });
    expect(meter.spent).toBeGreaterThanOrEqual(100_000);
  });

  it('stops repeated scans of a long string with the cost error', () => {
    const object = fromJson({ items: Array.from({ length: 200 }, (_, i) => i), s: 'x'.repeat(50_000) });
    expect(() => run("object.items.all(i, object.s.lowerAscii().size() > 0)", { object })).toThrow(/cost budget exceeded/);
  });
});
