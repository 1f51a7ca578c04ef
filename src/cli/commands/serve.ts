/** `celgate serve`: run celgate's servers (the admission webhook, later the ext_authz faces) over TLS. */
import { isIP } from 'node:net';
import type { Server as HttpsServer, ServerOptions as HttpsOptions } from 'node:https';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { createAdmissionServer } from '../../admission/index.js';
import { CertificateFileError, checkDnsName, createTlsContextSource, ensureServingCertificates } from '../../pki/index.js';
import { EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, type ParsedArgs } from '../usage.js';

const HELP = `Usage: celgate serve [--policies PATH...] [OPTIONS]

Runs the Kubernetes admission webhook over HTTPS: POST /validate (validating policies),
POST /mutate (mutating policies, answered with a JSON Patch), GET /healthz, GET /readyz
(503 until a policy set has loaded) and GET /metrics (Prometheus). Policy files are watched;
a changed set is loaded and swapped in whole, and a set with problems is rejected (each
problem logged as file:line:col) while the previous set keeps serving.

Options:
  --policies PATH     policy files or directories (repeatable; default: policies)
  --params PATH       param objects for bindings' paramRef (repeatable)
  --namespaces PATH   Namespace objects for namespaceSelector and namespaceObject (repeatable)
  --port N            webhook port (default 8443; 0 picks a free port)
  --host ADDRESS      address to listen on (default 0.0.0.0)
  --certs DIR         where the serving certificate lives; created there when missing (default certs)
  --tls-cert FILE     serving certificate chain (PEM); with --tls-key, instead of --certs
  --tls-key FILE      serving private key (PEM)
  --client-ca FILE    require client certificates signed by this CA
  --body-limit BYTES  largest AdmissionReview accepted (default 3145728, 3 MiB)
  --log-level LEVEL   trace, debug, info (default), warn, error
  -h, --help          shows this help

Stops cleanly on SIGINT and SIGTERM. Exit codes: 0 stopped, 2 usage error.`;

const OPTIONS = {
  policies: { type: 'string', multiple: true },
  params: { type: 'string', multiple: true },
  namespaces: { type: 'string', multiple: true },
  port: { type: 'string' },
  host: { type: 'string' },
  certs: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  'body-limit': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** What every face gets to start with. */
interface FaceContext {
  readonly args: ParsedArgs['values'];
  readonly tls: TlsSource;
  readonly log: Logger;
}

interface RunningFace {
  /** One line per listener, printed for people: "admission webhook: https://..." */
  readonly describe: string;
  close(): Promise<void>;
}

/** A server celgate serve starts. */
interface Face {
  readonly name: string;
  start(context: FaceContext): Promise<RunningFace>;
}

const admissionFace: Face = {
  name: 'admission',
  async start({ args, tls, log }) {
    const server = await createAdmissionServer({
      tls: tls.options,
      sources: {
        policyPaths: (args.policies as string[] | undefined) ?? ['policies'],
        dataPaths: [...((args.params as string[] | undefined) ?? []), ...((args.namespaces as string[] | undefined) ?? [])],
      },
      watch: true,
      ...(args['body-limit'] !== undefined ? { bodyLimit: positiveInteger('--body-limit', args['body-limit'] as string) } : {}),
      logger: log.child({ face: 'admission' }),
    });
    const url = await server.listen(port(args.port as string | undefined, 8443), (args.host as string | undefined) ?? '0.0.0.0');
    const stopWatchingCerts = tls.watch(server.server);
    return {
      describe: `admission webhook: ${url} (POST /validate, POST /mutate, GET /healthz /readyz /metrics)`,
      async close() {
        stopWatchingCerts();
        await server.close();
      },
    };
  },
};

/**
 * The servers `celgate serve` starts, in order. The ext_authz faces (HTTP and gRPC) are added
 * here: each takes the shared TLS source and logger and returns something to close.
 */
const FACES: readonly Face[] = [admissionFace];

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

function port(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be 0-65535, got '${text}'`);
  return n;
}

/** TLS settings for the listeners, and a way to follow certificate rotation on disk. */
interface TlsSource {
  readonly options: HttpsOptions;
  watch(server: HttpsServer): () => void;
}

/** A DNS name for the certificate from the machine's host name, when it is a valid one. */
function hostDnsNames(): string[] {
  try {
    return [checkDnsName(hostname())];
  } catch {
    return [];
  }
}

async function tlsSource(args: ParsedArgs['values'], log: Logger): Promise<TlsSource> {
  const certFile = args['tls-cert'] as string | undefined;
  const keyFile = args['tls-key'] as string | undefined;
  const clientCaFile = args['client-ca'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  let files: { certFile: string; keyFile: string };
  if (certFile !== undefined && keyFile !== undefined) {
    files = { certFile, keyFile };
  } else {
    const dir = (args.certs as string | undefined) ?? 'certs';
    const host = args.host as string | undefined;
    const ipAddresses = host !== undefined && isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::' ? [host] : [];
    const ensured = await ensureServingCertificates(dir, { dnsNames: hostDnsNames(), ipAddresses });
    if (ensured.generated) {
      log.info({ certFile: ensured.certFile, keyFile: ensured.keyFile, caFile: ensured.caFile }, `generated a serving certificate (and its CA when missing) in ${dir}`);
    }
    files = ensured;
  }
  const source = createTlsContextSource({ ...files, ...(clientCaFile !== undefined ? { clientCaFile } : {}) });
  return { options: source.options, watch: (server) => source.watch(server as unknown as Parameters<typeof source.watch>[0]) };
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the admission webhook (and later the ext_authz servers) over TLS',
  help: HELP,
  async run(args) {
    const parsed = parseCommandArgs(args, OPTIONS);
    if (parsed.values.help) {
      console.log(HELP);
      return EXIT_OK;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const level = (parsed.values['log-level'] as string | undefined) ?? 'info';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new UsageError(`--log-level: unknown level '${level}'`);
    // Logs go to stderr as JSON lines; stdout carries only the listening addresses.
    const log = pino({ name: 'celgate', level }, pino.destination(2));

    let tls: TlsSource;
    try {
      tls = await tlsSource(parsed.values, log);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      if (!(error instanceof CertificateFileError)) log.error({ err: error }, 'TLS setup failed');
      console.error(`celgate serve: TLS setup failed: ${(error as Error).message}`);
      return EXIT_USAGE;
    }
    const signal = waitForSignal();
    const running: RunningFace[] = [];
    try {
      for (const face of FACES) {
        const started = await face.start({ args: parsed.values, tls, log });
        running.push(started);
        console.log(started.describe);
      }
    } catch (error) {
      for (const face of running.reverse()) await face.close();
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      console.error(`celgate serve: cannot start: ${code === 'EADDRINUSE' ? 'the port is already in use' : (error as Error).message}`);
      return EXIT_USAGE;
    }
    const received = await signal;
    log.info({ signal: received }, 'shutting down');
    for (const face of running.reverse()) await face.close();
    return EXIT_OK;
  },
};
