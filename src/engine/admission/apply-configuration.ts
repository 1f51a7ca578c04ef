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
