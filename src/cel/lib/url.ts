/**
 * Kubernetes' URL library (k8s.io/apiserver/pkg/cel/library urls.go): `url()`,
 * `isURL()` and the `kubernetes.URL` accessors. Like Kubernetes, a string is accepted
 * when Go's url.ParseRequestURI accepts it (an absolute URI or an absolute path), and
 * the value is then read with url.Parse, so that a `#fragment` is split off properly.
 */
import { charge } from '../cost.js';
import { CelFunctionError } from '../errors.js';
import type { CelLibrary } from '../library.js';
import {
  NetURLError,
  parseRequestURI,
  parseURL,
  urlEscapedPath,
  urlHostname,
  urlPort,
  urlQuery,
  urlString,
  type GoURL,
} from './url-neturl.js';

/** A CEL `kubernetes.URL` value. */
export class KubernetesURL {
  constructor(readonly parts: GoURL) {}
  get celTypeName(): string {
    return 'kubernetes.URL';
  }
  /** Go's URL.String(), which Kubernetes also uses to compare two URLs. */
  toString(): string {
    return urlString(this.parts);
  }
  toJSON(): string {
    return this.toString();
  }
}

/** Checks `text` as Kubernetes does; throws NetURLError with Go's message. */
function checkRequestURI(text: string): void {
  charge(text.length);
  parseRequestURI(text);
}

function toURL(text: string): KubernetesURL {
  try {
    checkRequestURI(text);
    return new KubernetesURL(parseURL(text));
  } catch (error) {
    if (error instanceof NetURLError) {
      throw new CelFunctionError(`URL parse error during conversion from string: ${error.message}`);
    }
    throw error;
  }
}

function isURL(text: string): boolean {
  try {
    checkRequestURI(text);
    return true;
  } catch (error) {
    if (error instanceof NetURLError) return false;
    throw error;
  }
}

export const urlLibrary: CelLibrary = {
  name: 'url',
  register(r) {
    r.type('kubernetes.URL', KubernetesURL);
    r.fn('url(string): kubernetes.URL', toURL);
    r.fn('isURL(string): bool', isURL);
    r.fn('kubernetes.URL.getScheme(): string', (u: KubernetesURL) => u.parts.scheme);
    r.fn('kubernetes.URL.getHost(): string', (u: KubernetesURL) => u.parts.host);
    r.fn('kubernetes.URL.getHostname(): string', (u: KubernetesURL) => urlHostname(u.parts));
    r.fn('kubernetes.URL.getPort(): string', (u: KubernetesURL) => urlPort(u.parts));
    r.fn('kubernetes.URL.getEscapedPath(): string', (u: KubernetesURL) => urlEscapedPath(u.parts));
    r.fn('kubernetes.URL.getQuery(): map<string, list<string>>', (u: KubernetesURL) => {
      charge(u.parts.rawQuery.length);
      return urlQuery(u.parts);
    });
    r.operator('kubernetes.URL == kubernetes.URL', (a: KubernetesURL, b: KubernetesURL) => a.toString() === b.toString());
  },
};
