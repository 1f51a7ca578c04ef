/**
 * The spec's `cel.expr.Type` messages (checked.proto) as celgate type strings, the
 * notation `CelEnvironment` declares variables with and reports result types in:
 * `int`, `list<string>`, `map<string, int>`, `optional<int>`, `google.protobuf.Timestamp`.
 */
import { enumOf, isMessage, stringOf, type TextMessage, type TextValue } from './textproto.js';
import { NeedsProtoMessages, isBuiltinMessageType } from './values.js';

const PRIMITIVES: Readonly<Record<string, string>> = {
  BOOL: 'bool',
  INT64: 'int',
  UINT64: 'uint',
  DOUBLE: 'double',
  STRING: 'string',
  BYTES: 'bytes',
};

const WELL_KNOWN: Readonly<Record<string, string>> = {
  TIMESTAMP: 'google.protobuf.Timestamp',
  DURATION: 'google.protobuf.Duration',
};

/** The celgate spelling of a type; throws NeedsProtoMessages for message and wrapper types. */
export function celTypeString(type: TextMessage): string {
  const [field] = type.fields;
  if (!field) return 'dyn';
  const v = field.value;
  switch (field.name) {
    case 'primitive':
      return primitiveOf(v);
    case 'well_known':
      return wellKnownOf(v);
    case 'message_type': {
      const name = stringOf(v)!;
      if (isBuiltinMessageType(name)) return name;
      throw new NeedsProtoMessages(`message type ${name}`);
    }
    case 'wrapper':
      throw new NeedsProtoMessages(`wrapper type of ${enumOf(v)}`);
    case 'list_type':
      return `list<${childType(v, 'elem_type')}>`;
    case 'map_type':
      return `map<${childType(v, 'key_type')}, ${childType(v, 'value_type')}>`;
    case 'abstract_type':
      return abstractOf(asMessage(v));
    case 'null':
      return 'null';
    case 'type':
      return 'type';
    case 'dyn':
    case 'type_param':
      return 'dyn';
    default:
      throw new Error(`unsupported cel.expr.Type '${field.name}'`);
  }
}

function primitiveOf(value: TextValue): string {
  const name = PRIMITIVES[enumOf(value) ?? ''];
  if (!name) throw new Error(`unknown primitive type ${enumOf(value)}`);
  return name;
}

function wellKnownOf(value: TextValue): string {
  const kind = enumOf(value) ?? '';
  const name = WELL_KNOWN[kind];
  if (!name) throw new NeedsProtoMessages(`well-known type ${kind}`);
  return name;
}

function abstractOf(type: TextMessage): string {
  const name = stringOf(type.get('name'));
  if (name !== 'optional_type') throw new Error(`unsupported abstract type ${name}`);
  const [parameter] = type.all('parameter_types');
  return `optional<${parameter && isMessage(parameter) ? celTypeString(parameter) : 'dyn'}>`;
}

function asMessage(value: TextValue): TextMessage {
  if (!isMessage(value)) throw new Error('expected a type message');
  return value;
}

/** A nested type field; an absent one means `dyn`. */
function childType(value: TextValue, field: string): string {
  const inner = asMessage(value).get(field);
  return inner && isMessage(inner) ? celTypeString(inner) : 'dyn';
}

/**
 * Spellings that mean the same type: the checker reports `list<dyn>` as `list` and
 * `map<dyn, dyn>` as `map`, and may leave a type parameter (`T`) where the spec says dyn.
 */
export function normalizeTypeString(type: string): string {
  return type
    .replace(/\b[A-Z]\b/g, 'dyn')
    .replace(/\blist<dyn>/g, 'list')
    .replace(/\bmap<dyn, dyn>/g, 'map');
}
