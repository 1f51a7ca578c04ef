import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lineFile } from '../../src/telemetry/batched-file.js';
import { createDecisionLog, type DecisionRecord } from '../../src/telemetry/decision-log.js';

const record: DecisionRecord = {
  face: 'http',
  latencyMs: 0.0421,
  request: {
    source: { address: '10.0.0.7', principal: 'cluster.local/ns/shop/sa/web' },
    destination: { namespace: 'shop' },
    connection: { mtls: true },
    request: { id: 'd-1', method: 'GET', path: '/cart?x=1', host: 'cart', scheme: 'http', protocol: 'HTTP/1.1', headers: { authorization: 'Bearer secret', 'x-tenant': 'a' } },
  },
  decision: { id: 'd-1', allowed: false, status: 403, reason: 'denied by shop/deny-all', headers: {}, headersToRemove: [], route: null, matched: [{ policy: 'shop/deny-all', kind: 'AuthorizationPolicy', action: 'DENY', rule: 0 }] },
};

describe('decision log', () => {
  test('one line per decision: ISO time, redacted credentials, the deciding policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'celgate-decisions-'));
    try {
      const file = join(dir, 'decisions.jsonl');
      const destination = lineFile(file);
      const log = createDecisionLog({ destination });
      log.write(record);
      await log.flush();
      await destination.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0]!);
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(line.time) - Date.now())).toBeLessThan(5000);
      expect(line).toMatchObject({ id: 'd-1', face: 'http', policy: 'shop/deny-all', rule: 0, decision: { allowed: false, status: 403 } });
      expect(line.attributes.request.headers).toEqual({ authorization: '[REDACTED]', 'x-tenant': 'a' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Standard output is batched; a quiet server's single decision must still show up promptly,
  // not wait for more lines to fill a batch (it used to wait for 4 KiB).
  test('on standard output, a lone decision appears within a second while the process keeps running', async () => {
    const module = pathToFileURL(join(process.cwd(), 'dist', 'telemetry', 'decision-log.js')).href;
    const script = `
      const { createDecisionLog } = await import(${JSON.stringify(module)});
      createDecisionLog().write(${JSON.stringify(record)});
      setTimeout(() => {}, 10000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const started = Date.now();
      const [chunk] = (await Promise.race([
        once(child.stdout, 'data'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no decision line within 5 s')), 5000).unref()),
      ])) as [Buffer];
      expect(JSON.parse(chunk.toString('utf8').trim())).toMatchObject({ id: 'd-1', policy: 'shop/deny-all' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }
  });
});
