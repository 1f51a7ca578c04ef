/**
 * The conformance data model: a `SimpleTestFile` (cel.expr.conformance.test, simple.proto)
 * read from its text form into plain objects. Values, types and declarations stay as
 * text messages here; values.ts and types.ts give them meaning.
 */
import { boolOf, isMessage, parseTextProto, stringOf, type TextMessage, type TextValue } from './textproto.js';

export interface ConformanceFile {
  readonly name: string;
  readonly sections: readonly ConformanceSection[];
}

export interface ConformanceSection {
  readonly name: string;
  readonly tests: readonly ConformanceTest[];
}

/** What the test expects; simple.proto's `result_matcher` oneof. */
export type Expectation =
  | { readonly kind: 'value'; readonly value: TextMessage }
  | { readonly kind: 'typed'; readonly value?: TextMessage; readonly type?: TextMessage }
  | { readonly kind: 'error' }
  | { readonly kind: 'unknown' };

export interface ConformanceTest {
  /** `section/test`, unique within the file. */
  readonly name: string;
  readonly expr: string;
  readonly disableCheck: boolean;
  readonly disableMacros: boolean;
  readonly checkOnly: boolean;
  readonly container: string;
  /** `cel.expr.Decl` messages: `{ name, ident { type } }` or `{ name, function { ... } }`. */
  readonly typeEnv: readonly TextMessage[];
  /** Variable name → `cel.expr.ExprValue` (`{ value { ... } }`, `{ error }` or `{ unknown }`). */
  readonly bindings: ReadonlyMap<string, TextMessage>;
  readonly expected: Expectation;
}

export function parseConformanceFile(text: string): ConformanceFile {
  const root = parseTextProto(text);
  return {
    name: stringOf(root.get('name')) ?? '',
    sections: messages(root, 'section').map(readSection),
  };
}

function readSection(section: TextMessage): ConformanceSection {
  const sectionName = stringOf(section.get('name')) ?? '';
  return { name: sectionName, tests: messages(section, 'test').map((t) => readTest(sectionName, t)) };
}

function readTest(sectionName: string, test: TextMessage): ConformanceTest {
  return {
    name: `${sectionName}/${stringOf(test.get('name')) ?? ''}`,
    expr: stringOf(test.get('expr')) ?? '',
    disableCheck: boolOf(test.get('disable_check')) ?? false,
    disableMacros: boolOf(test.get('disable_macros')) ?? false,
    checkOnly: boolOf(test.get('check_only')) ?? false,
    container: stringOf(test.get('container')) ?? '',
    typeEnv: messages(test, 'type_env'),
    bindings: readBindings(test),
    expected: readExpectation(test),
  };
}

/** `bindings` is a proto map: repeated `{ key: "x" value { ... } }` entries. */
function readBindings(test: TextMessage): Map<string, TextMessage> {
  const out = new Map<string, TextMessage>();
  for (const entry of messages(test, 'bindings')) {
    const key = stringOf(entry.get('key'));
    const value = entry.get('value');
    if (key !== undefined && isMessage(value)) out.set(key, value);
  }
  return out;
}

const TRUE_VALUE = parseTextProto('bool_value: true');

function readExpectation(test: TextMessage): Expectation {
  const value = test.get('value');
  if (isMessage(value)) return { kind: 'value', value };
  const typed = test.get('typed_result');
  if (isMessage(typed)) {
    const result = typed.get('result');
    const type = typed.get('deduced_type');
    return {
      kind: 'typed',
      ...(isMessage(result) ? { value: result } : {}),
      ...(isMessage(type) ? { type } : {}),
    };
  }
  if (test.has('eval_error') || test.has('any_eval_errors')) return { kind: 'error' };
  if (test.has('unknown') || test.has('any_unknowns')) return { kind: 'unknown' };
  // simple.proto: "An unspecified result defaults to a matcher for the true boolean value."
  return { kind: 'value', value: TRUE_VALUE };
}

function messages(parent: TextMessage, field: string): TextMessage[] {
  return parent.all(field).filter((v: TextValue): v is TextMessage => isMessage(v));
}
