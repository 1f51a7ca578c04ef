// The CEL conformance runner (src/cel/conformance) and the bar celgate holds itself to:
// at least 95% of the runnable cases of the bar files pass. The data is the CEL
// specification's (google/cel-spec tests/simple/testdata), read from $CEL_SPEC_DIR or
// ../shared/cel-spec/testdata. Formats follow the protobuf text format specification
// (protobuf.dev "Text Format Language Specification") and cel-spec's simple.proto and
// value.proto; comparison rules are simple.proto's: "maps are order-agnostic" and "a
// floating point NaN should match any NaN".
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UnsignedInt } from '../../src/cel/adapter.js';
import { sameResult } from '../../src/cel/conformance/equality.js';
import { runCase, runConformanceFile, BAR_FILES, listConformanceFiles, type CaseResult } from '../../src/cel/conformance/runner.js';
import { barResults, formatTable, totalsOf } from '../../src/cel/conformance/summary.js';
import { parseConformanceFile } from '../../src/cel/conformance/testfile.js';
import { doubleOf, integerOf, parseTextProto, stringOf, bytesOf, type TextMessage } from '../../src/cel/conformance/textproto.js';
import { ExpectedType, celValueOf } from '../../src/cel/conformance/values.js';

describe('text format reader', () => {
  it('reads nested messages with and without colons, separators and comments', () => {
    const root = parseTextProto(`
      name: "basic"  # a comment
      section { name: 'a'; test < name: "t1" expr: "1" > }
      section: { name: "b", }
    `);
    expect(stringOf(root.get('name'))).toBe('basic');
    const sections = root.all('section') as TextMessage[];
    expect(sections.map((s) => stringOf(s.get('name')))).toEqual(['a', 'b']);
    expect(stringOf((sections[0]!.get('test') as TextMessage).get('expr'))).toBe('1');
  });

  it('keeps strings as bytes: C escapes, octal, hex, \\u, and UTF-8 text', () => {
    const root = parseTextProto(`a: "\\303\\277" b: "\\xe2\\x9c\\x8c" c: "\\u270c" d: "\\a\\b\\f\\n\\r\\t\\v\\"\\'\\\\" e: 'ÿ'`);
    expect([...bytesOf(root.get('a'))!]).toEqual([0xc3, 0xbf]);
    expect(stringOf(root.get('b'))).toBe('✌');
    expect(stringOf(root.get('c'))).toBe('✌');
    expect(stringOf(root.get('d'))).toBe('\x07\b\f\n\r\t\v"\'\\');
    expect([...bytesOf(root.get('e'))!]).toEqual([0xc3, 0xbf]);
  });

  it('concatenates adjacent strings', () => {
    expect(stringOf(parseTextProto(`expr: "a == " 'b'`).get('expr'))).toBe('a == b');
  });

  it('keeps 64-bit integers exact and reads inf and nan', () => {
    const root = parseTextProto('a: -9223372036854775808 b: 18446744073709551615 c: inf d: -inf e: nan f: Infinity g: 1e-5 h: 0x1F');
    expect(integerOf(root.get('a'))).toBe(-9223372036854775808n);
    expect(integerOf(root.get('b'))).toBe(18446744073709551615n);
    expect(doubleOf(root.get('c'))).toBe(Infinity);
    expect(doubleOf(root.get('d'))).toBe(-Infinity);
    expect(doubleOf(root.get('e'))).toBeNaN();
    expect(doubleOf(root.get('f'))).toBe(Infinity);
    expect(doubleOf(root.get('g'))).toBe(1e-5);
    expect(integerOf(root.get('h'))).toBe(31n);
  });

  it('reads Any type URLs and extension names as field names, and list values', () => {
    const root = parseTextProto('object_value { [type.googleapis.com/google.protobuf.Duration] { seconds: 3 } } v: [1, 2]');
    const any = root.get('object_value') as TextMessage;
    expect(any.fields[0]!.name).toBe('[type.googleapis.com/google.protobuf.Duration]');
    expect(root.all('v')).toHaveLength(2);
  });

  it('reports the line of a syntax error', () => {
    expect(() => parseTextProto('a: 1\nb { c: 2')).toThrow(/line 2/);
    expect(() => parseTextProto('a: "unterminated')).toThrow(/unterminated string/);
  });
});

describe('cel.expr.Value conversion and comparison', () => {
  const value = (text: string): unknown => celValueOf(parseTextProto(text));

  it('converts scalars, lists, maps and types', () => {
    expect(value('int64_value: -1')).toBe(-1n);
    expect(value('uint64_value: 18446744073709551615')).toEqual(new UnsignedInt(18446744073709551615n));
    expect(value('bytes_value: "\\000\\377"')).toEqual(Uint8Array.from([0, 255]));
    expect(value('null_value: NULL_VALUE')).toBeNull();
    expect(value('list_value { values { int64_value: 1 } values { string_value: "a" } }')).toEqual([1n, 'a']);
    expect(value('map_value { entries { key { int64_value: 1 } value { bool_value: true } } }')).toEqual(new Map([[1n, true]]));
    expect(value('type_value: "int"')).toEqual(new ExpectedType('int'));
  });

  it('keeps int, uint and double distinct, matches NaN with NaN, and ignores map order', () => {
    expect(sameResult(1n, value('uint64_value: 1'))).toBe(false);
    expect(sameResult(1, value('int64_value: 1'))).toBe(false);
    expect(sameResult(Number.NaN, value('double_value: nan'))).toBe(true);
    expect(sameResult(-0, value('double_value: 0'))).toBe(true); // proto equality compares doubles with ==
    expect(sameResult({ k: 'v', k1: 'v1' }, value(`map_value { entries { key { string_value: "k1" } value { string_value: "v1" } }
      entries { key { string_value: "k" } value { string_value: "v" } } }`))).toBe(true);
  });
});

describe('running cases', () => {
  const caseOf = (body: string): CaseResult => {
    const file = parseConformanceFile(`section { name: "s" test { name: "t" ${body} } }`);
    return runCase(file.sections[0]!.tests[0]!);
  };

  it('passes, fails with a reason, and defaults to expecting true', () => {
    expect(caseOf('expr: "1 + 1" value { int64_value: 2 }').status).toBe('pass');
    expect(caseOf('expr: "1 + 1" value { uint64_value: 2 }')).toMatchObject({ status: 'fail', reason: 'got 2, expected 2u' });
    expect(caseOf('expr: "1 / 0" eval_error { errors { message: "x" } }').status).toBe('pass');
    expect(caseOf('expr: "1 < 2"').status).toBe('pass');
  });

  it('declares bound variables, typed from type_env', () => {
    const result = caseOf(`expr: "x + 1" type_env { name: "x" ident { type { primitive: INT64 } } }
      bindings { key: "x" value { value { int64_value: 41 } } } value { int64_value: 42 }`);
    expect(result.status).toBe('pass');
  });

  it('skips cases that need protobuf messages, deciding from their data', () => {
    expect(caseOf('container: "cel.expr.conformance.proto3" expr: "TestAllTypes{}" value { bool_value: true }').status).toBe('skip');
    expect(caseOf('expr: "google.protobuf.Int32Value{value: 1}" value { int64_value: 1 }').status).toBe('skip');
    const messageVariable = 'type_env { name: "x" ident { type { message_type: "cel.expr.conformance.proto2.TestAllTypes" } } }';
    expect(caseOf(`expr: "x" ${messageVariable}`).status).toBe('skip');
    expect(caseOf("expr: \"'TestAllTypes{}'\" value { string_value: \"TestAllTypes{}\" }").status).toBe('pass');
    expect(caseOf('expr: "type(timestamp(1)) == google.protobuf.Timestamp"').status).toBe('pass');
  });
});

const SPEC_DIR = resolve(process.env.CEL_SPEC_DIR ?? '../shared/cel-spec/testdata');
const haveData = existsSync(SPEC_DIR);
if (!haveData) {
  console.warn(`CEL conformance data not found at ${SPEC_DIR}: skipping the conformance bar (set CEL_SPEC_DIR).`);
}

(haveData ? describe : describe.skip)(`conformance bar over ${SPEC_DIR}`, () => {
  const available = haveData ? listConformanceFiles(SPEC_DIR) : [];
  const results = BAR_FILES.filter((f) => available.includes(f)).map((f) => runConformanceFile(SPEC_DIR, f));

  it('passes at least 95% of the runnable cases of the bar files', () => {
    const totals = totalsOf(barResults(results));
    if (totals.passRate < 95) {
      const failures = results.flatMap((r) =>
        r.cases.filter((c) => c.status === 'fail').map((c) => `${r.file}/${c.name}: ${c.reason}`),
      );
      throw new Error(`${formatTable(results, 'Bar files')}\n\nfailing cases:\n${failures.join('\n')}`);
    }
    expect(totals.passRate).toBeGreaterThanOrEqual(95);
  });

  it('never fails a case because it needs protobuf messages', () => {
    const PROTO_NAMES = /TestAllTypes|cel\.expr\.conformance|google\.protobuf\.(?!Timestamp|Duration)/;
    const protoFailures = results.flatMap((r) =>
      r.cases.filter((c) => c.status === 'fail' && PROTO_NAMES.test(c.expr)),
    );
    expect(protoFailures).toEqual([]);
  });
});
