/** Envoy ext_authz over gRPC: `envoy.service.auth.v3.Authorization/Check`. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { deciderFor, newDecisionId } from './decider.js';
import { DECISION_ID_HEADER, type AuthzServer, type AuthzServerCommonOptions } from './http-server.js';
import {
  accessRequestFromCheck,
  checkResponseFor,
  CheckRequestError,
  invalidCheckResponse,
  requestIdOf,
  type WireCheckRequest,
} from './grpc-mapping.js';

/**
 * celgate's own copies of the ext_authz messages. The directory sits two levels below the
 * package root both as src/authz (sources) and as dist/authz (built), so one relative URL
 * finds it; the npm package must ship `src/authz/proto`.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../src/authz/proto/', import.meta.url));

export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface AuthzGrpcTlsOptions {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  /** CA bundle for client certificates; with it clients must present a certificate it signed. */
  readonly ca?: Buffer | string;
}

export interface AuthzGrpcServerOptions extends AuthzServerCommonOptions {
  readonly tls?: AuthzGrpcTlsOptions;
  /** Credentials built by the caller (e.g. ReloadableServerCredentials, to follow rotation); wins over `tls`. */
  readonly credentials?: grpc.ServerCredentials;
  /** Largest CheckRequest accepted (Envoy's request body is inside it). Default 4 MiB. */
  readonly maxMessageBytes?: number;
}

let cachedService: grpc.ServiceDefinition | undefined;

/** The Authorization service definition from celgate's protos (loaded once per process). */
export function authorizationService(): grpc.ServiceDefinition {
  if (cachedService) return cachedService;
  const definition = protoLoader.loadSync('envoy_service_auth.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: true,
  });
  const service = (definition['envoy.service.auth.v3.Authorization'] ?? undefined) as grpc.ServiceDefinition | undefined;
  if (!service) throw new Error(`envoy.service.auth.v3.Authorization not found in ${PROTO_DIR}`);
  cachedService = service;
  return service;
}

export async function startAuthzGrpcServer(options: AuthzGrpcServerOptions): Promise<AuthzServer> {
  const { decider, metrics, decisionLog } = deciderFor('grpc', options);
  const maxMessage = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessage,
    'grpc.max_send_message_length': maxMessage + 64 * 1024,
  });

  const check: grpc.handleUnaryCall<WireCheckRequest, object> = (call, callback) => {
    const request = call.request;
    const id = requestIdOf(request) ?? newDecisionId();
    let access;
    try {
      access = accessRequestFromCheck(request, id, options.destination);
    } catch (error) {
      if (!(error instanceof CheckRequestError)) throw error;
      callback(null, invalidCheckResponse(error.message, id, DECISION_ID_HEADER));
      return;
    }
    decider.decide(access, id, 'grpc').then(
      (decision) => callback(null, checkResponseFor(decision, DECISION_ID_HEADER)),
      // decide() never rejects; this is a last guard so a call is never left unanswered.
      (error: Error) => callback({ code: grpc.status.INTERNAL, details: error.message }),
    );
  };
  server.addService(authorizationService(), { Check: check });

  const credentials = options.credentials ?? (options.tls
    ? grpc.ServerCredentials.createSsl(
        options.tls.ca ? Buffer.from(options.tls.ca) : null,
        [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
        options.tls.ca !== undefined,
      )
    : grpc.ServerCredentials.createInsecure());
  const host = options.host ?? '127.0.0.1';
  const target = `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(target, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );

  return {
    host,
    port,
    address: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    metrics,
    metricsServed: false,
    setPolicies: (policies) => decider.setPolicies(policies),
    close() {
      return new Promise<void>((resolve) => {
        const done = () => {
          if (decisionLog) void decisionLog.flush().then(resolve);
          else resolve();
        };
        const force = setTimeout(() => {
          server.forceShutdown();
          done();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          done();
        });
      });
    },
  };
}
