/**
 * The object a policy sees when it matched through an equivalent resource: under
 * matchPolicy Equivalent, kube-apiserver converts the request's object (and oldObject) to
 * the group/version the rule named before the policy runs, and a mutation made there is
 * converted back.
 *
 * What is converted here:
 * - every object gets the matched `apiVersion`: all a conversion does between the served
 *   versions of a CustomResourceDefinition with conversion strategy None, and the only
 *   difference between the retired apps/extensions beta versions of a workload and apps/v1
 *   that a policy commonly reads (their few field differences are not modelled);
 * - core/v1 and events.k8s.io Events also rename the fields the two APIs name differently
 *   (events.k8s.io's `regarding` is core's `involvedObject`, `note` is `message`, ...).
 * A CRD converted by a webhook cannot be reproduced offline: it gets the apiVersion only.
 */
import { fromJson } from '../../cel/index.js';
import type { AdmissionRequest, GroupVersionKind } from './types.js';

type JsonObject = Record<string, unknown>;

/** events.k8s.io field → core/v1 field, for the fields the two Event APIs name differently. */
const EVENT_FIELDS: readonly (readonly [events: string, core: string])[] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
  ['reportingController', 'reportingComponent'],
];

const EVENTS_GROUP = 'events.k8s.io';

/** `group/version`, or `version` for the core group, as apiVersion spells it. */
export function apiVersionOf(kind: Pick<GroupVersionKind, 'group' | 'version'>): string {
  return kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;
}

/** Whether objects of `from` must be converted for a policy that matched as `to`. */
export function needsConversion(from: Pick<GroupVersionKind, 'group' | 'version'>, to: Pick<GroupVersionKind, 'group' | 'version'>): boolean {
  return from.group !== to.group || from.version !== to.version;
}

/**
 * `object` (plain JSON, left unchanged) as the version `to` of its kind; `from` is the
 * version it is in. Anything that is not an object (null for DELETE's object) is returned as is.
 */
export function convertObject(object: unknown, from: GroupVersionKind, to: Pick<GroupVersionKind, 'group' | 'version'>): unknown {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return object;
  const converted: JsonObject = { ...(object as JsonObject), apiVersion: apiVersionOf(to) };
  if (from.kind === 'Event') {
    const fromEvents = from.group === EVENTS_GROUP;
    const toEvents = to.group === EVENTS_GROUP;
    if (fromEvents !== toEvents) renameEventFields(converted, toEvents);
  }
  return converted;
}

function renameEventFields(object: JsonObject, toEvents: boolean): void {
  for (const [events, core] of EVENT_FIELDS) {
    const [from, to] = toEvents ? [core, events] : [events, core];
    if (!Object.hasOwn(object, from)) continue;
    object[to] = object[from];
    delete object[from];
  }
}

/** A request's object and oldObject in CEL form. */
export interface CelObjects {
  readonly object: unknown;
  readonly oldObject: unknown;
}

/**
 * The CEL object and oldObject of `request` as a policy that matched `matched` sees them:
 * the request's own, or converted (once per version, for the policies that share it).
 */
export function objectsByVersion(request: AdmissionRequest): (matched: GroupVersionKind) => CelObjects {
  const own: CelObjects = { object: fromJson(request.object ?? null), oldObject: fromJson(request.oldObject ?? null) };
  let converted: Map<string, CelObjects> | undefined;
  return (matched) => {
    if (!needsConversion(request.kind, matched)) return own;
    const key = apiVersionOf(matched);
    let objects = (converted ??= new Map()).get(key);
    if (!objects) {
      objects = {
        object: fromJson(convertObject(request.object ?? null, request.kind, matched)),
        oldObject: fromJson(convertObject(request.oldObject ?? null, request.kind, matched)),
      };
      converted.set(key, objects);
    }
    return objects;
  };
}
