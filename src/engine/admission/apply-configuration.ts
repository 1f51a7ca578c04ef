/**
 * Merging a MutatingAdmissionPolicy apply configuration into an object with server-side
 * apply semantics (structured-merge-diff): maps merge field by field, scalars replace,
 * atomic lists replace, associative lists ("list maps") merge their items by key, and
 * set lists take the union. Without the OpenAPI schema, list types come from the
 * well-known Kubernetes fields below; any other list is atomic, as SSA treats lists
 * whose schema declares nothing.
 */

type Json = unknown;
type JsonObject = Record<string, Json>;

/** Keys of associative lists, by field name, optionally qualified by the parent field. */
const LIST_MAP_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['containers', ['name']],
  ['initContainers', ['name']],
  ['ephemeralContainers', ['name']],
  ['env', ['name']],
  ['volumes', ['name']],
  ['volumeMounts', ['mountPath']],
  ['volumeDevices', ['devicePath']],
  ['imagePullSecrets', ['name']],
  ['hostAliases', ['ip']],
  ['resourceClaims', ['name']],
  ['schedulingGates', ['name']],
  ['topologySpreadConstraints', ['topologyKey', 'whenUnsatisfiable']],
  ['ownerReferences', ['uid']],
  ['conditions', ['type']],
  ['containerStatuses', ['name']],
  ['initContainerStatuses', ['name']],
]);

/** `ports` differs by where it sits: containers key by containerPort+protocol, Services by port+protocol. */
function keysFor(path: readonly string[]): readonly string[] | undefined {
  const field = path[path.length - 1]!;
  if (field === 'ports') {
    const parent = path[path.length - 2];
    return parent === 'containers' || parent === 'initContainers' || parent === 'ephemeralContainers' ? ['containerPort', 'protocol'] : ['port', 'protocol'];
  }
  return LIST_MAP_KEYS.get(field);
}

/** Set-typed lists: merged as a union. */
const SET_LISTS: ReadonlySet<string> = new Set(['metadata.finalizers']);

/** Key fields with a server default, so an item without it still matches the defaulted one. */
const KEY_DEFAULTS: Readonly<Record<string, Json>> = { protocol: 'TCP' };

const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns `target` with `patch` applied (neither input is modified). */
export function applyConfiguration(target: Json, patch: JsonObject): Json {
  return mergeValue(target, patch, []);
}

function mergeValue(target: Json, patch: Json, path: readonly string[]): Json {
  if (isObject(patch)) {
    const base = isObject(target) ? target : {};
    const out: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      // An explicit null in an apply configuration removes the field.
      if (value === null) delete out[key];
      else out[key] = mergeValue(base[key], value, [...path, key]);
    }
    return out;
  }
  if (Array.isArray(patch)) {
    if (!Array.isArray(target)) return patch;
    const keys = path.length > 0 ? keysFor(path) : undefined;
    if (keys) return mergeListMap(target, patch, keys, path);
    if (SET_LISTS.has(path.join('.'))) return [...target, ...patch.filter((item) => !target.some((t) => deepEqual(t, item)))];
    return patch;
  }
  return patch;
}

function mergeListMap(target: readonly Json[], patch: readonly Json[], keys: readonly string[], path: readonly string[]): Json[] {
  const out = [...target];
  for (const item of patch) {
    const index = isObject(item) ? out.findIndex((existing) => isObject(existing) && sameKey(existing, item, keys)) : -1;
    if (index < 0) out.push(item);
    else out[index] = mergeValue(out[index], item, path);
  }
  return out;
}

function sameKey(a: JsonObject, b: JsonObject, keys: readonly string[]): boolean {
  return keys.every((k) => deepEqual(a[k] ?? KEY_DEFAULTS[k], b[k] ?? KEY_DEFAULTS[k]));
}

export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * A deep copy of JSON data (what a JSON Patch may modify in place). Much cheaper than
 * structuredClone for the small objects admission sees; a `__proto__` key stays data.
 */
export function cloneJson(value: Json): Json {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneJson);
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = cloneJson((value as JsonObject)[key]);
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

/**
 * `copy` (a tree nobody else holds) with each part equal to the one at the same place in
 * `original` replaced by that part, and `original` itself when all of it is equal: a changed
 * copy then shares what did not change, which keeps later comparisons, diffs and conversions
 * short. Only nodes of `copy` are modified. Equal means the same keys in the same order and
 * equal values, so the result serializes exactly as `copy` did.
 */
export function shareUnchanged(copy: Json, original: Json): Json {
  if (typeof copy !== 'object' || copy === null || typeof original !== 'object' || original === null) return Object.is(copy, original) ? original : copy;
  if (copy === original) return original;
  if (Array.isArray(copy)) {
    if (!Array.isArray(original) || copy.length !== original.length) return copy;
    let same = true;
    for (let i = 0; i < copy.length; i++) {
      const item = shareUnchanged(copy[i], original[i]);
      // Object.is: a 0 that replaced a -0 is a change.
      if (!Object.is(item, original[i])) same = false;
      else copy[i] = item;
    }
    return same ? original : copy;
  }
  if (Array.isArray(original) || Object.getPrototypeOf(copy) !== Object.prototype || Object.getPrototypeOf(original) !== Object.prototype) return copy;
  const target = copy as JsonObject;
  const source = original as JsonObject;
  const keys = Object.keys(target);
  const originalKeys = Object.keys(source);
  let sameKeys = keys.length === originalKeys.length;
  let same = sameKeys;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    // The same keys in the same order so far: the original has this one.
    if (sameKeys && originalKeys[i] !== key) sameKeys = same = false;
    if (!sameKeys && !Object.prototype.hasOwnProperty.call(source, key)) {
      same = false;
      continue;
    }
    const before = source[key];
    const item = shareUnchanged(target[key], before);
    if (!Object.is(item, before)) same = false;
    else if (item !== target[key]) {
      if (key === '__proto__') Object.defineProperty(target, key, { value: item, enumerable: true, writable: true, configurable: true });
      else target[key] = item;
    }
  }
  return same ? original : copy;
}
