/**
 * fromJson, toJson and roundTripJson against straightforward reference versions (the
 * implementations they replaced): the single-pass versions must give the same values, with
 * the same types (bigint vs number, Map vs object), key order and prototypes, for every input.
 */
import { fromJson, toJson } from '../../src/cel/index.js';
import { Optional, UnsignedInt } from '../../src/cel/adapter.js';
import { roundTripJson } from '../../src/cel/values.js';

const isReservedKey = (key: string): boolean => key === '__proto__' || key === 'constructor';

function referenceFromJson(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = referenceFromJson(value[i]);
    return out;
  }
  const keys = Object.keys(value);
  if (keys.some(isReservedKey)) return new Map(keys.map((key) => [key, referenceFromJson((value as Record<string, unknown>)[key])]));
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = referenceFromJson((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * A description of a value that tells apart everything the comparison must: bigint from number,
 * -0 from 0, Map from object, key order, holes, prototypes, and `__proto__` as data.
 */
function describe(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string':
      return JSON.stringify(value);
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'function':
      return `function ${value.name}`;
    case 'symbol':
      return value.toString();
    default:
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (let i = 0; i < value.length; i++) items.push(i in value ? describe(value[i]) : '<hole>');
    return `[${items.join(', ')}]`;
  }
  if (value instanceof Map) return `Map{${[...value].map(([k, v]) => `${describe(k)} => ${describe(v)}`).join(', ')}}`;
  const proto = Object.getPrototypeOf(value);
  const tag = proto === Object.prototype ? '' : proto === null ? 'null-proto' : (proto.constructor?.name ?? '?');
  const keys = Object.keys(value as object);
  return `${tag}{${keys.map((k) => `${JSON.stringify(k)}: ${describe((value as Record<string, unknown>)[k])}`).join(', ')}}`;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 'x' });

/** Inputs chosen for the branches: numbers at the edges, reserved keys anywhere, odd objects. */
const INPUTS: readonly unknown[] = [
  null,
  undefined,
  true,
  '',
  'text',
  0,
  -0,
  1,
  -7,
  1.5,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53) - 2,
  1e20,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  5n,
  2n ** 64n,
  -(2n ** 60n),
  [],
  {},
  sparse,
  [undefined, null, [1, [2.5, { a: 3 }]]],
  { b: 1, a: 2, 10: 'ten', 2: 'two', z: [0, -0] },
  JSON.parse('{"__proto__": {"x": 1}, "a": 2}'),
  JSON.parse('{"a": 1, "b": {"c": 2}, "__proto__": 3, "d": 4.5}'),
  { first: 'one', constructor: 'label', last: [1] },
  { constructor: { constructor: { inner: 1 } } },
  { metadata: { labels: { constructor: 'x', app: 'web' }, annotations: { toJSON: 'not a function' } } },
  { hasOwnProperty: 1, toString: 'text', valueOf: null },
  nullProto,
  new Point(1, 2.5),
  new Date(0),
  new Map([['k', 1]]),
  new Set([1]),
  Object.defineProperty({ visible: 1 }, 'hidden', { value: 2, enumerable: false }),
  JSON.parse('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":0.5}}}]}}'),
];

test('fromJson gives the same values as the reference, for every input', () => {
  for (const input of INPUTS) expect(describe(fromJson(input))).toBe(describe(referenceFromJson(input)));
});

test('fromJson turns an object with a reserved key into a Map, keeping order and converting each value once', () => {
  let reads = 0;
  const counted = { a: 1, get b() {
    reads++;
    return 2;
  }, constructor: 3, c: 4.5 };
  const result = fromJson(counted);
  expect(result).toBeInstanceOf(Map);
  expect([...(result as Map<string, unknown>)]).toEqual([
    ['a', 1n],
    ['b', 2n],
    ['constructor', 3n],
    ['c', 4.5],
  ]);
  expect(reads).toBe(1);
});

test('toJson gives a `__proto__` key as data, from Maps and from objects alike', () => {
  const fromMap = toJson(new Map<string, unknown>([['__proto__', { polluted: 1n }], ['a', 2n]])) as Record<string, unknown>;
  expect(Object.getPrototypeOf(fromMap)).toBe(Object.prototype);
  expect(Object.keys(fromMap)).toEqual(['__proto__', 'a']);
  expect(describe(fromMap)).toBe('{"__proto__": {"polluted": 1}, "a": 2}');
  const fromObject = toJson(JSON.parse('{"__proto__": {"polluted": 1}}')) as Record<string, unknown>;
  expect(Object.getPrototypeOf(fromObject)).toBe(Object.prototype);
  expect(describe(fromObject)).toBe('{"__proto__": {"polluted": 1}}');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('toJson renders CEL values as before: big ints as strings, uints, optionals, holes kept by map', () => {
  expect(toJson(2n ** 64n)).toBe('18446744073709551616');
  expect(toJson(new UnsignedInt(7n))).toBe(7);
  expect(toJson(Optional.of(3n))).toBe(3);
  expect(toJson(Optional.none())).toBeNull();
  expect(toJson(Number.NaN)).toBe('NaN');
  expect(describe(toJson(sparse))).toBe('[1, <hole>, 3]');
  expect(describe(toJson(new Map<unknown, unknown>([[1n, 'one'], ['b', [2n]]])))).toBe('{"1": "one", "b": [2]}');
});

test('roundTripJson is toJson(fromJson(x)) and fromJson of that, for every input', () => {
  for (const input of INPUTS) {
    const expected = toJson(referenceFromJson(input));
    const { json, cel } = roundTripJson(input);
    expect(describe(json)).toBe(describe(expected));
    expect(describe(cel)).toBe(describe(referenceFromJson(expected)));
  }
});

test('roundTripJson takes the slow path, with the same result, for data that is not JSON', () => {
  const fn = function named(): void {};
  const withToJson = { a: 1, toJSON: () => ({ replaced: true }) };
  for (const input of [fn, Symbol('s'), { a: [fn] }, withToJson, { nested: withToJson }]) {
    const expected = toJson(referenceFromJson(input));
    const { json, cel } = roundTripJson(input);
    expect(describe(json)).toBe(describe(expected));
    expect(describe(cel)).toBe(describe(referenceFromJson(expected)));
  }
});

test('roundTripJson copies: neither form shares objects with the input', () => {
  const input = { spec: { containers: [{ name: 'c' }] } };
  const { json, cel } = roundTripJson(input);
  expect(json).not.toBe(input);
  expect((json as typeof input).spec).not.toBe(input.spec);
  expect((json as typeof input).spec.containers[0]).not.toBe(input.spec.containers[0]);
  expect((cel as typeof input).spec.containers).not.toBe((json as typeof input).spec.containers);
});
