/**
 * What a matched route does to the request line: `rewrite` (before forwarding) and
 * `redirect` (instead of forwarding). The data plane calls `rewritePath` and
 * `redirectLocation`; they implement Istio's documented meaning so the server need not.
 */
import { RE2JS } from 're2js';
import type { RouteMatch } from '../types.js';

/**
 * A RegExp whose matching runs on RE2 (linear time). `CompiledRoute.rewrite.uriRegex.match`
 * is typed RegExp; V8's engine must never run a user pattern, so this object carries the
 * RE2 pattern and implements replace/test/exec with re2js. `source` is the RE2 pattern.
 */
export class Re2RegExp extends RegExp {
  readonly re2: RE2JS;
  constructor(pattern: string) {
    super('(?:)');
    this.re2 = RE2JS.compile(pattern);
    Object.defineProperty(this, 'source', { value: pattern });
  }
  override test(input: string): boolean {
    return this.re2.matcher(input).find();
  }
  override exec(input: string): RegExpExecArray | null {
    const m = this.re2.matcher(input);
    if (!m.find()) return null;
    const groups: string[] = [];
    for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? (undefined as unknown as string));
    const result = groups as unknown as RegExpExecArray;
    result.index = m.start();
    result.input = input;
    return result;
  }
  /** `input.replace(this, rewrite)` replaces every match; `\1`..`\9` in `rewrite` are groups (RE2 rewrite syntax). */
  override [Symbol.replace](input: string, rewrite: unknown): string {
    const template = String(rewrite);
    return this.re2.matcher(input).replaceAll((...args: unknown[]) => expandRe2Rewrite(template, args));
  }
  override toString(): string {
    return `/${this.source}/re2`;
  }
}

/** RE2's rewrite string: `\0`..`\9` insert groups, `\\` a backslash. */
function expandRe2Rewrite(template: string, args: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '\\' && i + 1 < template.length) {
      const next = template[i + 1]!;
      if (next >= '0' && next <= '9') {
        const g = args[Number(next)];
        out += typeof g === 'string' ? g : '';
        i++;
        continue;
      }
      if (next === '\\') {
        out += '\\';
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function splitQuery(path: string): [string, string] {
  const q = path.indexOf('?');
  return q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q)];
}

/**
 * The path (with its query) to forward after the route's `rewrite`:
 * - `rewrite.uri` replaces the matched prefix when the route matched by prefix, else the whole path
 *   (Istio HTTPRewrite.uri);
 * - `rewrite.uriRegexRewrite` substitutes every match of the RE2 pattern in the path (not the query).
 */
export function rewritePath(match: RouteMatch, path: string): string {
  const rewrite = match.route.rewrite;
  if (!rewrite) return path;
  const [bare, query] = splitQuery(path);
  if (rewrite.uri !== undefined) {
    if (match.matchedPrefix !== undefined) return rewrite.uri + bare.slice(match.matchedPrefix.length) + query;
    return rewrite.uri + query;
  }
  if (rewrite.uriRegex) return bare.replace(rewrite.uriRegex.match, rewrite.uriRegex.rewrite) + query;
  return path;
}

/** The authority to forward with after `rewrite.authority`. */
export function rewriteAuthority(match: RouteMatch, authority: string): string {
  return match.route.rewrite?.authority ?? authority;
}

export type DerivePort = 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';

/** The Location of a redirect route (HTTPRedirect), from the request's scheme, authority and path. */
export function redirectLocation(
  match: RouteMatch,
  request: { readonly scheme: string; readonly authority: string; readonly path: string },
): string {
  const redirect = match.route.redirect as (RouteMatch['route']['redirect'] & { derivePort?: DerivePort }) | undefined;
  if (!redirect) throw new Error(`route ${match.route.name} is not a redirect`);
  const scheme = redirect.scheme ?? request.scheme;
  const [reqHost, reqPort] = splitAuthority(request.authority);
  let host = reqHost;
  let port = reqPort;
  if (redirect.authority !== undefined) [host, port] = splitAuthority(redirect.authority);
  if (redirect.port !== undefined) port = String(redirect.port);
  else if (redirect.derivePort === 'FROM_PROTOCOL_DEFAULT') port = undefined;
  else if (redirect.derivePort === 'FROM_REQUEST_PORT') port = reqPort;
  if (port !== undefined && ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443'))) port = undefined;
  const [bare, query] = splitQuery(request.path);
  // Istio: "the entire path will be replaced"; the original query stays unless the new uri has one.
  let pathPart = bare + query;
  if (redirect.uri !== undefined) pathPart = redirect.uri.includes('?') ? redirect.uri : redirect.uri + query;
  return `${scheme}://${host}${port !== undefined ? `:${port}` : ''}${pathPart}`;
}

function splitAuthority(authority: string): [string, string | undefined] {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    const rest = authority.slice(end + 1);
    return [authority.slice(0, end + 1), rest.startsWith(':') ? rest.slice(1) : undefined];
  }
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return [authority, undefined];
  return [authority.slice(0, colon), authority.slice(colon + 1)];
}
