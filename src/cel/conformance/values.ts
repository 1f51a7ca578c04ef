/**
 * Turns the spec's `cel.expr.Value` messages (value.proto) into celgate's CEL values:
 * bigint for int, UnsignedInt, number, string, bool, null, Uint8Array, arrays, maps
 * (plain objects when every key is a string, Maps otherwise), Date and Duration for
 * the two well-known types CEL has built in, and `ExpectedType` for `type_value`.
 */
import { Duration, UnsignedInt } from '../adapter.js';
import {
  boolOf,
  bytesOf,
  doubleOf,
  integerOf,
  isMessage,
  stringOf,
  type TextMessage,
  type TextValue,
} from './textproto.js';

/** The case depends on protobuf messages celgate does not have (TestAllTypes, Any, wrappers...). */
export class NeedsProtoMessages extends Error {}

/** The value is valid CEL but celgate cannot represent it (e.g. a nanosecond timestamp). */
export class Unrepresentable extends Error {}

/** A `type_value`, kept as the type's name; compared with `type(x)` results by name. */
export class ExpectedType {
  constructor(readonly name: string) {}
  toString(): string {
    return `type(${this.name})`;
  }
}

const TIMESTAMP = 'google.protobuf.Timestamp';
const DURATION = 'google.protobuf.Duration';

/** The well-known types CEL has as built-in values rather than as messages. */
export function isBuiltinMessageType(name: string): boolean {
  return name === TIMESTAMP || name === DURATION;
}

export function celValueOf(value: TextMessage): unknown {
  const [field] = value.fields;
  if (!field) throw new Error('empty cel.expr.Value');
  const v = field.value;
  switch (field.name) {
    case 'null_value':
      return null;
    case 'bool_value':
      return boolOf(v);
    case 'int64_value':
      return integerOf(v);
    case 'uint64_value':
      return new UnsignedInt(integerOf(v)!);
    case 'double_value':
      return doubleOf(v);
    case 'string_value':
      return stringOf(v);
    case 'bytes_value':
      return bytesOf(v);
    case 'list_value':
      return listOf(v);
    case 'map_value':
      return mapOf(v);
    case 'type_value':
      return typeOf(stringOf(v)!);
    case 'object_value':
      return objectOf(v);
    case 'enum_value':
      throw new NeedsProtoMessages(`enum value of ${stringOf(asMessage(v).get('type'))}`);
    default:
      throw new Error(`unknown cel.expr.Value field '${field.name}'`);
  }
}

function asMessage(value: TextValue): TextMessage {
  if (!isMessage(value)) throw new Error('expected a message');
  return value;
}

function listOf(value: TextValue): unknown[] {
  return asMessage(value)
    .all('values')
    .map((element) => celValueOf(asMessage(element)));
}

function mapOf(value: TextValue): Record<string, unknown> | Map<unknown, unknown> {
  const entries = asMessage(value)
    .all('entries')
    .map((entry) => {
      const e = asMessage(entry);
      return [celValueOf(asMessage(e.get('key')!)), celValueOf(asMessage(e.get('value')!))] as const;
    });
  if (entries.every(([k]) => typeof k === 'string')) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k as string] = v;
    return out;
  }
  return new Map(entries);
}

function typeOf(name: string): ExpectedType {
  if (name.includes('.') && !isBuiltinMessageType(name)) throw new NeedsProtoMessages(`type ${name}`);
  return new ExpectedType(name);
}

/** `object_value` is an Any: a single `[type.googleapis.com/NAME] { fields }` entry. */
function objectOf(value: TextValue): unknown {
  const [field] = asMessage(value).fields;
  if (!field) throw new Error('empty object_value');
  const typeName = field.name.replace(/^\[(?:.*\/)?/, '').replace(/\]$/, '');
  const body = asMessage(field.value);
  if (typeName === TIMESTAMP) return timestampOf(body);
  if (typeName === DURATION) return durationOf(body);
  throw new NeedsProtoMessages(`message ${typeName}`);
}

function secondsAndNanos(body: TextMessage): [bigint, number] {
  return [integerOf(body.get('seconds')) ?? 0n, Number(integerOf(body.get('nanos')) ?? 0n)];
}

function timestampOf(body: TextMessage): Date {
  const [seconds, nanos] = secondsAndNanos(body);
  if (nanos % 1_000_000 !== 0) {
    const value = `${seconds}s ${nanos}ns`;
    throw new Unrepresentable(`timestamp with nanoseconds (${value}): celgate timestamps have millisecond precision`);
  }
  return new Date(Number(seconds) * 1000 + nanos / 1_000_000);
}

function durationOf(body: TextMessage): Duration {
  const [seconds, nanos] = secondsAndNanos(body);
  return new Duration(seconds, nanos);
}
