/** `celgate proxy --config FILE`: run the companion proxy (a small mesh data plane). */
import { pino } from 'pino';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../../engine/access/index.js';
import { loadProxyConfig, ProxyConfigError } from '../../proxy/config.js';
import { ProxyStartError, startProxy, type ProxyLog } from '../../proxy/server/index.js';
import type { ProxyConfig } from '../../proxy/types.js';
import { logLevel, waitForSignal } from '../server-process.js';
import { EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, helpRequested, refusePositionals } from '../usage.js';

const HELP = `Usage: celgate proxy --config FILE [OPTIONS]

Runs the companion proxy described by FILE (kind ProxyConfig, apiVersion celgate.dev/v1alpha1):
- inbound listeners terminate mutual TLS with the workload's SPIFFE certificate (and accept
  plain text on the same port unless a PeerAuthentication says STRICT), authorise every
  request (AuthorizationPolicy, RequestAuthentication, PeerAuthentication, AccessPolicy) and
  forward it to the local application;
- outbound listeners route the application's requests by VirtualService and DestinationRule
  (weights, subsets, retries, timeouts, fault injection, mirroring, circuit breaking, outlier
  detection, load balancing) to ServiceEntry/WorkloadEntry endpoints over mutual TLS;
- gateway listeners serve an Istio Gateway's routes (plain HTTP; TLS servers: not yet).
The mesh files are watched (with watch: true); a changed set is loaded whole, and a set with
problems is logged as file:line:col while the previous one keeps serving.

Options:
  --config FILE               the ProxyConfig file (required)
  --path-normalization MODE   NONE, BASE (default), MERGE_SLASHES, DECODE_AND_MERGE_SLASHES
                              (Istio meshConfig.pathNormalization; overrides the config's
                              mesh.pathNormalization): the path that is authorised is the path
                              that is routed and forwarded
  --root-namespace NS         Istio root namespace for mesh-wide policies (overrides
                              mesh.rootNamespace; default istio-system)
  --log-level LEVEL           trace, debug, info (default), warn, error
  -h, --help                  shows this help

Logs are JSON lines on standard output. Stops cleanly (finishing requests in flight) on
SIGINT and SIGTERM. Exit codes: 0 stopped, 2 usage or configuration error.`;

const OPTIONS = {
  config: { type: 'string' },
  'path-normalization': { type: 'string' },
  'root-namespace': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export const proxyCommand: Command = {
  name: 'proxy',
  help: HELP,
  async run(args) {
    const parsed = parseCommandArgs(args, OPTIONS);
    if (helpRequested(parsed.values, HELP)) return EXIT_OK;
    refusePositionals(parsed.positionals);
    const file = parsed.values.config as string | undefined;
    if (!file) throw new UsageError('--config FILE is required (a ProxyConfig YAML file)');
    const level = logLevel(parsed.values['log-level'] as string | undefined);
    const normalization = parsed.values['path-normalization'] as string | undefined;
    if (normalization !== undefined && !PATH_NORMALIZATIONS.includes(normalization as PathNormalization)) {
      throw new UsageError(`--path-normalization: '${normalization}' is not one of ${PATH_NORMALIZATIONS.join(', ')}`);
    }
    let config: ProxyConfig;
    try {
      config = loadProxyConfig(file);
    } catch (error) {
      if (error instanceof ProxyConfigError) {
        console.error(`celgate proxy: the config has problems:\n${error.message}`);
        return EXIT_USAGE;
      }
      throw error;
    }
    const logger = pino({ name: 'celgate-proxy', level }, pino.destination(1));
    const log: ProxyLog = {
      info: (message, fields) => logger.info(fields ?? {}, message),
      warn: (message, fields) => logger.warn(fields ?? {}, message),
      error: (message, fields) => logger.error(fields ?? {}, message),
    };
    let proxy;
    try {
      proxy = await startProxy(config, {
        log,
        ...(normalization ? { pathNormalization: normalization as PathNormalization } : {}),
        ...(parsed.values['root-namespace'] ? { rootNamespace: parsed.values['root-namespace'] as string } : {}),
        // client-node loads only for a config that asks for Kubernetes discovery.
        discovery: async (proxyConfig, proxyLog) => (await import('../../k8s/proxy-discovery.js')).discoverForProxy(proxyConfig, proxyLog),
      });
    } catch (error) {
      if (error instanceof ProxyStartError) {
        console.error(`celgate proxy: ${error.message}`);
        logger.flush();
        return EXIT_USAGE;
      }
      throw error;
    }
    const signal = await waitForSignal();
    log.info(`stopping on ${signal}: finishing requests in flight`);
    await proxy.close();
    logger.flush();
    return EXIT_OK;
  },
};
