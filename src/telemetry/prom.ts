/**
 * prom-client's registry and metric classes without its index. The index also loads the default
 * process metrics, the Pushgateway client, cluster aggregation and @opentelemetry/api (~60 files
 * and ~2 MB of heap) that the proxy and the ext_authz servers never use. Types are the package's
 * own. Modules that want default metrics (the admission webhook) import 'prom-client' itself; the
 * classes are the same either way (one module cache).
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const load = createRequire(import.meta.url);

export const Registry: typeof Prom.Registry = load('prom-client/lib/registry');
export type Registry = Prom.Registry;
export const Counter: typeof Prom.Counter = load('prom-client/lib/counter');
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge: typeof Prom.Gauge = load('prom-client/lib/gauge');
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram: typeof Prom.Histogram = load('prom-client/lib/histogram');
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export type { Metric } from 'prom-client';
