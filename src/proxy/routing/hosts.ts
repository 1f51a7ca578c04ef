/**
 * Host names as Istio reads them. A short name in a resource (`reviews`) means a Kubernetes
 * service in the resource's namespace (`reviews.NS.svc.cluster.local`); a request's short
 * host resolves like a pod's DNS search path (`inventory`, `inventory.shop`,
 * `inventory.shop.svc` all reach `inventory.shop.svc.cluster.local`). Wildcards are a
 * leading `*.` label or `*` alone.
 */

export const CLUSTER_DOMAIN = 'cluster.local';

/** The fully qualified form of a host written in a resource of `namespace`. */
export function resolveHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h === '*' || h.startsWith('*.')) return h;
  if (isIpAddress(h)) return h;
  if (!h.includes('.')) return `${h}.${namespace}.svc.${CLUSTER_DOMAIN}`;
  return h;
}

export function isWildcard(host: string): boolean {
  return host === '*' || host.startsWith('*.');
}

/** Whether a wildcard host (`*.example.com`, `*`) covers `host`; `*.example.com` does not cover `example.com`. */
export function wildcardCovers(wildcard: string, host: string): boolean {
  if (wildcard === '*') return true;
  const suffix = wildcard.slice(1); // `.example.com`
  return host.length > suffix.length && host.endsWith(suffix);
}

/** The host of an authority, lower-case, without the port (IPv6 brackets kept). */
export function stripPort(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end < 0 ? a : a.slice(0, end + 1);
  }
  const colon = a.lastIndexOf(':');
  if (colon < 0 || a.indexOf(':') !== colon) return a;
  return a.slice(0, colon);
}

/**
 * The names a request host may stand for, most literal first: the host itself, then its
 * expansion through the search path of a pod in `namespace`.
 */
export function requestHostCandidates(host: string, namespace: string): readonly string[] {
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (isIpAddress(host)) return [host];
  const dots = host.split('.').length - 1;
  if (dots === 0) return [host, `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`];
  if (host.endsWith('.svc')) return [host, `${host}.${CLUSTER_DOMAIN}`];
  if (dots === 1) return [host, `${host}.svc.${CLUSTER_DOMAIN}`];
  return [host];
}

function isIpAddress(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[') || host.includes(':');
}

/**
 * An index of values by host: exact hosts first, then the longest (most specific) wildcard.
 * Built once; lookups allocate nothing beyond the candidate list.
 */
export class HostIndex<T> {
  private readonly exact = new Map<string, T>();
  /** Sorted longest first; `*` last. */
  private readonly wildcards: Array<{ readonly host: string; readonly value: T }> = [];

  constructor(entries: Iterable<readonly [string, T]>) {
    for (const [host, value] of entries) {
      if (isWildcard(host)) this.wildcards.push({ host, value });
      else this.exact.set(host, value);
    }
    this.wildcards.sort((a, b) => b.host.length - a.host.length);
  }

  /** The value for the first candidate with an exact entry, else the most specific wildcard covering any candidate. */
  lookup(candidates: readonly string[]): T | undefined {
    for (const c of candidates) {
      const v = this.exact.get(c);
      if (v !== undefined) return v;
    }
    for (const w of this.wildcards) {
      for (const c of candidates) if (wildcardCovers(w.host, c)) return w.value;
    }
    return undefined;
  }

  hosts(): string[] {
    return [...this.exact.keys(), ...this.wildcards.map((w) => w.host)];
  }
}
