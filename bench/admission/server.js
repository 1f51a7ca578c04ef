// A webhook server for the admission benchmark, run as a child process so its memory can be measured
// on its own. `node server.js celgate CERTDIR` serves celgate's webhook with every policy under
// policies/; `node server.js baseline CERTDIR` a bare fastify HTTPS server that parses the
// AdmissionReview and answers allowed:true; `node server.js floor CERTDIR` the same server answering
// with floor.js' hand-written policies. Reports its port, then its peak RSS when asked (IPC).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { AdmissionServer, loadClusterObjects } from '../../dist/admission/index.js';
import { clusterStateFrom, compileAdmissionPolicies } from '../../dist/engine/admission/index.js';
import { loadResources } from '../../dist/policy/index.js';
import { loadFloor, paramDirs } from './library.js';

const [mode, certDir] = process.argv.slice(2);
const tls = { cert: readFileSync(join(certDir, 'serving.crt')), key: readFileSync(join(certDir, 'serving.key')) };

async function celgate(empty) {
  const { resources, issues } = empty ? { resources: [], issues: [] } : await loadResources(['policies']);
  const admission = resources.filter((r) => r.type.face === 'admission');
  const compileIssues = [];
  const policies = compileAdmissionPolicies(admission, compileIssues);
  const objects = await loadClusterObjects(paramDirs('policies'), []);
  const server = new AdmissionServer({ tls, logger: pino({ level: 'silent' }) });
  server.use({ policies, cluster: clusterStateFrom(objects), resourceCount: admission.length, loadedAt: new Date() });
  const url = await server.listen(0, '127.0.0.1');
  const skipped = compileIssues.length + issues.filter((i) => !i.file.includes('/params/')).length;
  return {
    port: Number(new URL(url).port),
    info: `${admission.length} admission resources (${policies.validating.length} validating, ${policies.mutating.length} mutating policies), ${skipped} load issues skipped`,
  };
}

/** The bare fastify server; with `decide`, it answers with what decide(request) returns instead of allowed:true. */
async function baseline(decide) {
  const app = Fastify({ https: tls, logger: false, bodyLimit: 3 * 1024 * 1024, keepAliveTimeout: 30_000 });
  const answer = (request, reply) => {
    const review = request.body;
    const verdict = decide ? decide(review.request) : { allowed: true };
    reply.send({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, ...verdict } });
  };
  app.post('/validate', answer);
  app.post('/mutate', answer);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, info: decide ? 'bare fastify HTTPS, hand-written policies' : 'bare fastify HTTPS, allowed:true' };
}

const started = mode === 'baseline' ? await baseline() : mode === 'floor' ? await baseline(await loadFloor()) : await celgate(mode === 'adapter');
process.on('message', (message) => {
  if (message === 'rss') process.send({ peakRss: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage.rss() });
  if (message === 'stop') process.exit(0);
});
process.send({ ready: true, ...started });
