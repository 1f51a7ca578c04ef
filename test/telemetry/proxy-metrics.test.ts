/** Proxy metrics: asserted on the Prometheus text a scrape returns. */
import { Registry } from 'prom-client';
import { createProxyMetrics } from '../../src/telemetry/proxy-metrics.js';
import type { Endpoint } from '../../src/proxy/types.js';

const labels = { listener: 'outbound', route: 'shop/reviews.0', destination: 'reviews.shop.svc.cluster.local', subset: 'v2' };

describe('proxy metrics', () => {
  test('requests are counted by status and timed in seconds', async () => {
    const metrics = createProxyMetrics();
    metrics.requestFinished(labels, 200, 0.0004);
    metrics.requestFinished(labels, 200, 0.003);
    metrics.requestFinished(labels, 503, 2);
    metrics.requestFinished({ ...labels, route: 'none', destination: 'none', subset: '' }, 404, 0.0001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('celgate_proxy_requests_total{listener="outbound",route="shop/reviews.0",destination="reviews.shop.svc.cluster.local",subset="v2",status="200"} 2');
    expect(text).toContain('celgate_proxy_requests_total{listener="outbound",route="shop/reviews.0",destination="reviews.shop.svc.cluster.local",subset="v2",status="503"} 1');
    expect(text).toContain('celgate_proxy_requests_total{listener="outbound",route="none",destination="none",subset="",status="404"} 1');
    // Buckets are cumulative: 0.0004 falls in le=0.0005, 0.003 in le=0.005, 2 in le=2.5.
    expect(text).toContain('celgate_proxy_request_duration_seconds_bucket{le="0.00025",listener="outbound",destination="reviews.shop.svc.cluster.local"} 0');
    expect(text).toContain('celgate_proxy_request_duration_seconds_bucket{le="0.0005",listener="outbound",destination="reviews.shop.svc.cluster.local"} 1');
    expect(text).toContain('celgate_proxy_request_duration_seconds_bucket{le="0.005",listener="outbound",destination="reviews.shop.svc.cluster.local"} 2');
    expect(text).toContain('celgate_proxy_request_duration_seconds_bucket{le="2.5",listener="outbound",destination="reviews.shop.svc.cluster.local"} 3');
    expect(text).toContain('celgate_proxy_request_duration_seconds_count{listener="outbound",destination="reviews.shop.svc.cluster.local"} 3');
    expect(text).toMatch(/celgate_proxy_request_duration_seconds_sum\{listener="outbound",destination="reviews.shop.svc.cluster.local"\} 2\.0034/);
  });

  test('retries, ejections, overflows, connections, authz decisions and upstream health', async () => {
    const metrics = createProxyMetrics();
    const endpoint: Endpoint = { id: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, labels: {}, weight: 1 };
    const cluster = 'outbound|8080|v2|reviews.shop.svc.cluster.local';
    metrics.retry('reviews.shop.svc.cluster.local');
    metrics.retry('reviews.shop.svc.cluster.local');
    metrics.clusterEvents.onEjection!(cluster, endpoint);
    metrics.clusterEvents.onOverflow!(cluster);
    metrics.clusterEvents.onOverflow!(cluster);
    metrics.connectionOpened('inbound');
    metrics.connectionOpened('inbound');
    metrics.connectionClosed('inbound');
    metrics.authzDecision(true);
    metrics.authzDecision(false);
    metrics.authzDecision(false);
    metrics.clusterEvents.onHealthChange!(cluster, endpoint, false);
    metrics.upstreamHealth(cluster, '10.0.0.2:8080', true);
    let text = await metrics.registry.metrics();
    expect(text).toContain('celgate_proxy_retries_total{destination="reviews.shop.svc.cluster.local"} 2');
    expect(text).toContain(`celgate_proxy_outlier_ejections_total{cluster="${cluster}"} 1`);
    expect(text).toContain(`celgate_proxy_circuit_breaker_overflows_total{cluster="${cluster}"} 2`);
    expect(text).toContain('celgate_proxy_active_connections{listener="inbound"} 1');
    expect(text).toContain('celgate_proxy_authz_decisions_total{allowed="true"} 1');
    expect(text).toContain('celgate_proxy_authz_decisions_total{allowed="false"} 2');
    expect(text).toContain(`celgate_proxy_upstream_health{cluster="${cluster}",endpoint="10.0.0.1:8080"} 0`);
    expect(text).toContain(`celgate_proxy_upstream_health{cluster="${cluster}",endpoint="10.0.0.2:8080"} 1`);
    metrics.forgetUpstream(cluster, '10.0.0.1:8080');
    text = await metrics.registry.metrics();
    expect(text).not.toContain('endpoint="10.0.0.1:8080"');
  });

  test('each proxy has its own registry; a given registry is used', async () => {
    const a = createProxyMetrics();
    const b = createProxyMetrics();
    a.retry('x');
    expect(await a.registry.metrics()).toContain('celgate_proxy_retries_total{destination="x"} 1');
    expect(await b.registry.metrics()).not.toContain('destination="x"');
    const mine = new Registry();
    const c = createProxyMetrics(mine);
    c.retry('y');
    expect(c.registry).toBe(mine);
    expect(await mine.metrics()).toContain('celgate_proxy_retries_total{destination="y"} 1');
  });
});

test('registry.resetMetrics() zeroes the per-request series and counting resumes', async () => {
  const metrics = createProxyMetrics();
  metrics.requestFinished(labels, 200, 0.01);
  metrics.retry('d');
  metrics.registry.resetMetrics();
  metrics.requestFinished(labels, 200, 0.01);
  const text = await metrics.registry.metrics();
  expect(text).toContain('celgate_proxy_requests_total{listener="outbound",route="shop/reviews.0",destination="reviews.shop.svc.cluster.local",subset="v2",status="200"} 1');
  expect(text).toContain('celgate_proxy_request_duration_seconds_count{listener="outbound",destination="reviews.shop.svc.cluster.local"} 1');
  expect(text).toContain('celgate_proxy_retries_total{destination="d"} 0');
  const json = await metrics.registry.getMetricsAsJSON();
  expect(json.find((m) => m.name === 'celgate_proxy_requests_total')).toMatchObject({ type: 'counter', values: [expect.objectContaining({ value: 1 })] });
});
