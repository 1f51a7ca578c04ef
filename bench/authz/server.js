// One bench server in its own process (so the load generator does not share its event loop):
// node bench/authz/server.js http-authz|http-bare|grpc-authz|grpc-bare POLICY_FILE
// Sends {port} over IPC when listening, samples RSS, answers {rss} and exits on 'stop'.
// Modules are imported per mode so each process holds only what it serves.

const [mode, policyFile, logMode] = process.argv.slice(2);

async function policies() {
  const { loadResources } = await import('../../dist/policy/index.js');
  const { compileAccessPolicies } = await import('../../dist/engine/access/index.js');
  const { resources, issues } = await loadResources([policyFile]);
  const problems = [...issues];
  const compiled = compileAccessPolicies(resources, problems);
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  return compiled;
}

async function start() {
  // The decision log goes to /dev/null through the batcher `celgate serve` uses: its cost is
  // counted, its output is not kept.
  const decisionLog = logMode === 'log' ? { destination: (await import('../../dist/telemetry/batched-file.js')).lineFile('/dev/null') } : false;
  switch (mode) {
    case 'http-authz': {
      const { startAuthzHttpServer } = await import('../../dist/authz/http-server.js');
      const server = await startAuthzHttpServer({ policies: await policies(), trustForwardedClientCert: true, decisionLog });
      return server.port;
    }
    case 'grpc-authz': {
      const { startAuthzGrpcServer } = await import('../../dist/authz/grpc-server.js');
      const server = await startAuthzGrpcServer({ policies: await policies(), decisionLog });
      return server.port;
    }
    case 'http-bare': {
      const { default: Fastify } = await import('fastify');
      const app = Fastify({ logger: false });
      app.removeAllContentTypeParsers();
      app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      app.all('/*', async (_req, reply) => reply.code(200).send(''));
      await app.listen({ host: '127.0.0.1', port: 0 });
      return app.server.address().port;
    }
    case 'grpc-bare': {
      const grpc = await import('@grpc/grpc-js');
      const { authorizationService } = await import('../../dist/authz/grpc-server.js');
      const server = new grpc.Server();
      // Answered in a microtask, like the real server, so both pay the same scheduling.
      const ok = { status: { code: 0 }, ok_response: {} };
      server.addService(authorizationService(), { Check: (_call, callback) => queueMicrotask(() => callback(null, ok)) });
      return new Promise((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
      );
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

let maxRss = 0;
setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
}, 100).unref();
process.on('message', (message) => {
  if (message === 'reset-rss') maxRss = process.memoryUsage.rss();
  if (message === 'rss') process.send({ rss: Math.max(maxRss, process.memoryUsage.rss()) });
  if (message === 'stop') process.exit(0);
});
start().then(
  (port) => process.send({ port }),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
