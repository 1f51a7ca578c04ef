/**
 * Kubernetes' JSONPatch library (k8s.io/apiserver/pkg/cel/library jsonpatch.go):
 * `jsonpatch.escapeKey(key)` escapes a map key for use in a JSON Pointer path
 * (RFC 6901), e.g. `"/metadata/labels/" + jsonpatch.escapeKey('k8s.io/my~label')`.
 */
import { charge } from '../cost.js';
import type { CelLibrary } from '../library.js';

/** `~` becomes `~0` and `/` becomes `~1`, in one pass so that `~1` in the input stays distinct. */
function escapeKey(key: string): string {
  charge(key.length);
  return key.replace(/[~/]/g, (c) => (c === '~' ? '~0' : '~1'));
}

export const jsonpatchLibrary: CelLibrary = {
  name: 'jsonpatch',
  register(r) {
    r.namespace('jsonpatch');
    r.fn('jsonpatch.escapeKey(string): string', escapeKey);
  },
};
