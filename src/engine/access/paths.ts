/**
 * Request path normalisation, done before any path matching exactly as Istio's mesh-wide
 * `pathNormalization` option does (Istio docs, "Authorization Policy Normalization" and the
 * security best practices' normalisation table). The proxy reuses it so that what was
 * authorised is what gets forwarded.
 */

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** Thrown for a path Istio rejects outright (Envoy answers 400), such as one containing `%00`. */
export class InvalidPathError extends Error {
  override readonly name = 'InvalidPathError';
}

/** Splits a request target into its path and the query string (without `?`). */
export function splitPathAndQuery(target: string): { path: string; query: string } {
  // Absolute-form (`http://host/a?b`, RFC 9112 3.2.2): only the path and query matter here.
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  const q = target.indexOf('?');
  // A fragment never reaches a server, but drop it if a client sent one anyway.
  const hash = target.indexOf('#');
  const end = hash >= 0 && (q < 0 || hash < q) ? hash : -1;
  if (end >= 0) return { path: target.slice(0, end), query: '' };
  if (q < 0) return { path: target, query: '' };
  return { path: target.slice(0, q), query: hash > q ? target.slice(q + 1, hash) : target.slice(q + 1) };
}

/**
 * Normalises a path (no query string). BASE: decode percent-encoded unreserved characters
 * (`A-Z a-z 0-9 - . _ ~`) once, turn `\` into `/`, remove `.` and `..` segments (RFC 3986
 * 5.2.4). MERGE_SLASHES: then merge `//` runs. DECODE_AND_MERGE_SLASHES: decode `%2F`/`%5C`
 * first (so they become separators), then as MERGE_SLASHES. Throws InvalidPathError for `%00`.
 */
export function normalizePath(path: string, mode: PathNormalization = 'BASE'): string {
  if (mode === 'NONE') return path;
  if (FAST_PATH.test(path) && !path.includes('/.') && !path.includes('//')) return path;
  let p = decodePercents(path, mode === 'DECODE_AND_MERGE_SLASHES');
  p = p.replace(/\\/g, '/');
  p = removeDotSegments(p);
  if (mode !== 'BASE') p = p.replace(/\/{2,}/g, '/');
  return p;
}

/** Paths that no normalisation step can change (checked for `/.` and `//` separately). */
const FAST_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

function decodePercents(path: string, slashes: boolean): string {
  if (!path.includes('%')) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === '%' && i + 2 < path.length + 0 && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
      const code = parseInt(path.slice(i + 1, i + 3), 16);
      if (code === 0) throw new InvalidPathError(`path ${JSON.stringify(path)} contains %00`);
      if (isUnreserved(code) || (slashes && (code === 0x2f || code === 0x5c))) {
        out += String.fromCharCode(code);
        i += 2;
        continue;
      }
      // Other escapes stay encoded; upper-case hex as RFC 3986 6.2.2.1 recommends.
      out += '%' + path.slice(i + 1, i + 3).toUpperCase();
      i += 2;
      continue;
    }
    out += ch;
  }
  return out;
}

/** RFC 3986 section 5.2.4, on a path that starts with `/` (a relative one is anchored at `/`). */
function removeDotSegments(path: string): string {
  const absolute = path.startsWith('/');
  const segments = (absolute ? path.slice(1) : path).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return '/' + out.join('/');
}
