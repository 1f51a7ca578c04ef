// Bench servers in their own processes (so the load generator and the proxies do not share
// their event loops):
//   node bench/proxy/servers.js upstream COUNT       COUNT node:http listeners, one tiny app
//   node bench/proxy/servers.js ext-authz POLICY_FILE NAMESPACE   celgate's ext_authz HTTP server
//   node bench/proxy/servers.js bare-proxy PORT,PORT,...  a bare node:http + undici proxy (round robin)
// Sends {ports} over IPC when listening; answers 'stats' with {checks} (ext-authz) and exits on 'stop'.
import { createServer } from 'node:http';

const [mode, arg, namespace] = process.argv.slice(2);

const BODY = Buffer.from('{"ok":true}');

/** The upstream application: the same for every case (direct, haproxy, celgate). */
async function upstream(count) {
  const handler = (req, res) => {
    // Drain any request body before answering so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
      res.end(BODY);
    });
  };
  const ports = [];
  for (let i = 0; i < count; i++) {
    const server = createServer({ keepAliveTimeout: 60_000 }, handler);
    // Proxies keep connections open for long: never let the app close them mid-run.
    server.headersTimeout = 60_000;
    server.requestTimeout = 0;
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push(server.address().port);
  }
  return { ports, stats: async () => ({}) };
}

/** celgate's own ext_authz HTTP server over the bench policies, deciding for NAMESPACE's workload `app: api`. */
async function extAuthz(policyFile) {
  const { loadResources } = await import('../../dist/policy/index.js');
  const { compileAccessPolicies } = await import('../../dist/engine/access/index.js');
  const { startAuthzHttpServer } = await import('../../dist/authz/http-server.js');
  const { resources, issues } = await loadResources([policyFile]);
  const problems = [...issues];
  const policies = compileAccessPolicies(resources, problems);
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  const server = await startAuthzHttpServer({
    policies,
    decisionLog: false,
    trustForwardedClientCert: true,
    destination: { namespace, labels: { app: 'api' } },
  });
  const counter = server.metrics.registry.getSingleMetric('celgate_authz_checks_total');
  return {
    ports: [server.port],
    stats: async () => ({ checks: (await counter.get()).values.reduce((sum, v) => sum + v.value, 0) }),
  };
}

/**
 * The floor for a Node proxy on this machine: node:http in, undici Pools out, round robin over
 * the endpoints, headers passed through, nothing else (no routing, metrics, logs or limits).
 */
async function bareProxy(ports) {
  const { Pool } = await import('undici');
  const pools = ports.map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 64, pipelining: 1 }));
  let next = 0;
  const server = createServer({ keepAliveTimeout: 60_000 }, async (req, res) => {
    const pool = pools[next++ % pools.length];
    try {
      const upstream = await pool.request({ method: req.method, path: req.url, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
      res.writeHead(upstream.statusCode, upstream.headers);
      for await (const chunk of upstream.body) res.write(chunk);
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { ports: [server.address().port], stats: async () => ({}) };
}

async function start() {
  if (mode === 'bare-proxy') return bareProxy(arg.split(',').map(Number));
  if (mode === 'upstream') return upstream(Number(arg));
  if (mode === 'ext-authz') return extAuthz(arg);
  throw new Error(`unknown mode ${mode}`);
}

start().then(
  (server) => {
    process.on('message', async (message) => {
      if (message === 'stats') process.send({ stats: await server.stats() });
      if (message === 'stop') process.exit(0);
    });
    process.send({ ports: server.ports });
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
