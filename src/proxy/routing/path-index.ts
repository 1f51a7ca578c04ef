/**
 * Which http routes of a VirtualService can match a path, by the path's first segment, so a
 * request does not test every route of a long list. The index only ever skips routes that
 * cannot match: a route whose every match requires a case-sensitive exact uri, or a prefix
 * that already contains the segment's closing `/`, can only match paths with those first
 * segments; every other route (regex, ignoreUriCase, a short prefix such as `/r9` or `/`, no
 * uri, no match at all) is a candidate for every path. Candidates keep the routes' order, so
 * first match wins exactly as in a linear scan.
 */
import type { HttpMatch } from './http-match.js';

/** The first path segment (`/a/b` → `a`, `/` → ``), or undefined for a string not starting with `/`. */
export function firstSegment(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47 /* / */) return undefined;
  const end = path.indexOf('/', 1);
  return end < 0 ? path.slice(1) : path.slice(1, end);
}

/** The first segments any path matched by `m` has, or undefined when that cannot be told. */
function segmentsOfMatch(m: HttpMatch): string | undefined {
  const uri = m.uri;
  if (!uri || (uri.kind !== 'exact' && uri.kind !== 'prefix') || uri.ignoreCase) return undefined;
  if (uri.kind === 'prefix' && uri.value.indexOf('/', 1) < 0) return undefined;
  return firstSegment(uri.value);
}

export class PathIndex {
  /** Routes that may match any path (also the answer for a segment no route names). */
  readonly #anyPath: number[] = [];
  readonly #bySegment = new Map<string, number[]>();

  constructor(routes: readonly { readonly matches: readonly HttpMatch[] }[]) {
    const segments: (Set<string> | undefined)[] = routes.map(({ matches }) => {
      if (matches.length === 0) return undefined;
      const set = new Set<string>();
      for (const m of matches) {
        const segment = segmentsOfMatch(m);
        if (segment === undefined) return undefined;
        set.add(segment);
      }
      return set;
    });
    for (const set of segments) if (set) for (const segment of set) if (!this.#bySegment.has(segment)) this.#bySegment.set(segment, []);
    segments.forEach((set, index) => {
      if (set === undefined) {
        this.#anyPath.push(index);
        for (const list of this.#bySegment.values()) list.push(index);
      } else {
        for (const segment of set) this.#bySegment.get(segment)!.push(index);
      }
    });
  }

  /** Indexes of the routes that may match `path` (without the query), in route order. */
  candidates(path: string): readonly number[] {
    const segment = firstSegment(path);
    return (segment !== undefined && this.#bySegment.get(segment)) || this.#anyPath;
  }
}
