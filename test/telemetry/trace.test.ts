/** W3C Trace Context propagation (https://www.w3.org/TR/trace-context/, Level 1). */
import { parseTraceparent, traceContext } from '../../src/telemetry/trace.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${PARENT}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('parseTraceparent', () => {
  test('the spec example parses', () => {
    expect(parseTraceparent(VALID)).toEqual({ version: 0, traceId: TRACE, parentId: PARENT, flags: 1 });
  });

  test.each([
    // "trace-id ... All bytes as zero (00000000000000000000000000000000) is considered an invalid value."
    ['all-zero trace-id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    // "parent-id ... All bytes as zero (0000000000000000) is considered an invalid value."
    ['all-zero parent-id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    // "version ... Version ff is invalid."
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    // Fields are HEXDIGLC: lower-case hex only.
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['non-hex flags', `00-${TRACE}-${PARENT}-0x`],
    ['short trace-id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    // Version 00 is exactly 55 characters: anything after the flags makes it invalid.
    ['version 00 with trailing data', `${VALID}-extra`],
    ['wrong separators', `00_${TRACE}_${PARENT}_01`],
    // "If the size of the header is shorter than 55 characters, the vendor should not parse the header"
    ['too short', '00-abc-def-01'],
    // Two traceparent headers combined by the HTTP layer are not one valid value.
    ['two headers joined', `${VALID}, ${VALID}`],
  ])('rejects %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  test('a higher version is read by its version-00 prefix (forward compatibility)', () => {
    // Spec, versioning of traceparent: parse trace-id and parent-id at their version-00 offsets;
    // if the header is longer than 55 characters the next character must be "-".
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-holds`)).toEqual({ version: 0xcc, traceId: TRACE, parentId: PARENT, flags: 1 });
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01`)).toMatchObject({ version: 0xcc });
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01x`)).toBeUndefined();
  });
});

describe('traceContext', () => {
  test('continues a valid trace: same trace id, a new span id as the upstream parent, flags kept', () => {
    const ctx = traceContext({ traceparent: VALID, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', 'x-request-id': 'abc-123' });
    const [, traceId, spanId, flags] = TRACEPARENT.exec(ctx.traceparent)!;
    expect(traceId).toBe(TRACE);
    expect(spanId).toBe(ctx.spanId);
    expect(spanId).not.toBe(PARENT);
    expect(flags).toBe('01');
    expect(ctx).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: true, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', requestId: 'abc-123' });
  });

  test('the sampled flag is carried; unknown flag bits are not propagated', () => {
    // Level 1 defines only the sampled bit (0x01); the proxy sends version 00 with only that bit.
    expect(traceContext({ traceparent: `00-${TRACE}-${PARENT}-00` }).traceparent).toMatch(/-00$/);
    expect(traceContext({ traceparent: `00-${TRACE}-${PARENT}-09` }).traceparent).toMatch(/-01$/);
    expect(traceContext({ traceparent: `00-${TRACE}-${PARENT}-08` })).toMatchObject({ sampled: false, traceId: TRACE });
  });

  test('a higher version is continued but propagated as version 00', () => {
    const ctx = traceContext({ traceparent: `01-${TRACE}-${PARENT}-01-extra` });
    expect(ctx.traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
  });

  test('starts a new trace when traceparent is absent or invalid, and drops tracestate with an invalid parent', () => {
    // "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate."
    for (const headers of [{}, { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01`, tracestate: 'rojo=1' }, { traceparent: [VALID, VALID] }]) {
      const ctx = traceContext(headers);
      const [, traceId, spanId, flags] = TRACEPARENT.exec(ctx.traceparent)!;
      expect(traceId).toBe(ctx.traceId);
      expect(traceId).not.toBe('0'.repeat(32));
      expect(traceId).not.toBe(TRACE);
      expect(spanId).not.toBe('0'.repeat(16));
      expect(flags).toBe('00');
      expect(ctx.tracestate).toBeUndefined();
      expect(ctx.parentId).toBeUndefined();
      expect(ctx.requestId).toMatch(UUID);
    }
    expect(traceContext({}, { sampleNew: true }).traceparent).toMatch(/-01$/);
  });

  test('repeated tracestate headers combine in order', () => {
    expect(traceContext({ traceparent: VALID, tracestate: ['a=1', 'b=2'] }).tracestate).toBe('a=1,b=2');
  });

  test('ids are random and unique', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const ctx = traceContext({});
      traces.add(ctx.traceId);
      spans.add(ctx.spanId);
    }
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
  });

  test('x-request-id is kept when sane, replaced when not', () => {
    expect(traceContext({ 'x-request-id': 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6' }).requestId).toBe('f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    expect(traceContext({ 'x-request-id': 'has space' }).requestId).toMatch(UUID);
    expect(traceContext({ 'x-request-id': 'x'.repeat(200) }).requestId).toMatch(UUID);
    expect(traceContext({ 'x-request-id': ['a', 'b'] }).requestId).toMatch(UUID);
  });
});
