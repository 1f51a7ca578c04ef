/** Access log: lines written through the real buffered stream to a real file, parsed back. */
import { fstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccessLog, formatAccessLogLine, type AccessLogEntry } from '../../src/telemetry/access-log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'celgate-access-log-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry: AccessLogEntry = {
  time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  listener: 'inbound',
  method: 'POST',
  path: '/charge?token=secret&x=1',
  authority: 'payment.shop.svc.cluster.local:8080',
  status: 201,
  route: 'shop/payment.0',
  upstream: '127.0.0.1:8080',
  cluster: 'inbound|8080||payment.shop.svc.cluster.local',
  attempts: 2,
  durationMs: 12.34567,
  bytesReceived: 42,
  bytesSent: 7,
  decisionId: 'd-1',
  decision: { allowed: true, policy: 'shop/allow-frontend' },
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  requestId: 'req-1',
  peer: 'spiffe://cluster.local/ns/shop/sa/frontend',
};

describe('access log', () => {
  test('one JSON line per request with the documented fields, query string dropped', () => {
    const line = formatAccessLogLine(entry);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      listener: 'inbound',
      method: 'POST',
      path: '/charge',
      authority: 'payment.shop.svc.cluster.local:8080',
      status: 201,
      route: 'shop/payment.0',
      upstream: '127.0.0.1:8080',
      cluster: 'inbound|8080||payment.shop.svc.cluster.local',
      attempts: 2,
      duration_ms: 12.346,
      bytes_received: 42,
      bytes_sent: 7,
      decision_id: 'd-1',
      decision: 'allowed',
      policy: 'shop/allow-frontend',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      request_id: 'req-1',
      peer: 'spiffe://cluster.local/ns/shop/sa/frontend',
    });
    expect(line).not.toContain('secret');
  });

  test('absent values are null so every line has the same keys; a denial names its policy', () => {
    const denied = JSON.parse(
      formatAccessLogLine({ listener: 'outbound', method: 'GET', path: '/', authority: 'x', status: 403, attempts: 0, durationMs: 0.2, bytesReceived: 0, bytesSent: 9, decision: { allowed: false, policy: 'shop/deny-all' }, traceId: 't', requestId: 'r' }),
    );
    expect(Object.keys(denied)).toEqual(Object.keys(JSON.parse(formatAccessLogLine(entry))));
    expect(denied).toMatchObject({ route: null, upstream: null, cluster: null, decision_id: null, decision: 'denied', policy: 'shop/deny-all', peer: null });
    expect(Date.parse(denied.time)).toBeGreaterThan(Date.UTC(2025, 0, 1));
  });

  test('a file log appends through the buffered stream and close() flushes every line', async () => {
    const file = join(dir, 'access.log');
    writeFileSync(file, '{"earlier":true}\n');
    const log = createAccessLog(file);
    for (let i = 0; i < 1000; i++) log.write({ ...entry, requestId: `req-${i}`, status: i % 2 ? 200 : 503 });
    // Buffered, not written synchronously per line (4 KiB batches written asynchronously).
    const during = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    expect(during).toBeLessThan(1001);
    await log.close();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1001);
    expect(lines[0]).toEqual({ earlier: true });
    expect(lines[1]).toMatchObject({ request_id: 'req-0', status: 503 });
    expect(lines[1000]).toMatchObject({ request_id: 'req-999', status: 200 });
    expect(log.dropped).toBe(0);
    log.write(entry); // after close: counted, not thrown
    expect(log.dropped).toBe(1);
  });

  test('flush() writes out buffered lines while the log stays open', async () => {
    const file = join(dir, 'flush.log');
    const log = createAccessLog(file);
    log.write(entry);
    await log.flush();
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    log.write(entry);
    await log.close();
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });

  test('off writes nothing; a sink receives lines', async () => {
    const off = createAccessLog('off');
    off.write(entry);
    await off.close();
    const lines: string[] = [];
    const sink = createAccessLog({ write: (line: string) => lines.push(line) });
    sink.write(entry);
    expect(lines.map((l) => JSON.parse(l).request_id)).toEqual(['req-1']);
  });

  test('a file that cannot be opened does not crash the process; lines are counted as dropped', async () => {
    // Under a regular file: neither the directory nor the file can be created.
    const log = createAccessLog(join('/dev/null', 'missing-dir', 'access.log'));
    await log.flush();
    log.write(entry);
    await log.close();
    expect(log.dropped).toBe(1);
  });

  test('closing a stdout log leaves standard output open', async () => {
    const log = createAccessLog('stdout');
    await log.close();
    expect(() => fstatSync(1)).not.toThrow();
  });
});
