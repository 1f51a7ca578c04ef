/** A grpc-js client built from Envoy's own protos (@grpc/grpc-js-xds/deps): proves celgate's protos match the wire. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { AccessRequest } from '../../src/engine/access/types.js';

const require = createRequire(import.meta.url);
const DEPS = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const ENVOY_PROTO_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true } as const;

export function loadEnvoyAuthorization(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
    ...ENVOY_PROTO_OPTIONS,
    includeDirs: ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => join(DEPS, d)),
  });
}

export type CheckClient = grpc.Client & {
  Check(request: object, callback: (error: grpc.ServiceError | null, response: CheckResponse) => void): void;
};

export interface CheckResponse {
  status?: { code?: number; message?: string };
  ok_response?: { headers?: Array<{ header: { key: string; value: string }; append?: { value: boolean } }>; headers_to_remove?: string[] };
  denied_response?: { status?: { code?: string | number }; headers?: Array<{ header: { key: string; value: string } }>; body?: string };
  dynamic_metadata?: { fields?: Record<string, { stringValue?: string }> };
}

export function checkClient(address: string, credentials = grpc.credentials.createInsecure()): CheckClient {
  const loaded = grpc.loadPackageDefinition(loadEnvoyAuthorization()) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: new (address: string, creds: grpc.ChannelCredentials) => CheckClient } } } };
  };
  return new loaded.envoy.service.auth.v3.Authorization(address, credentials);
}

export function check(client: CheckClient, request: object): Promise<CheckResponse> {
  return new Promise((resolve, reject) => client.Check(request, (error, response) => (error ? reject(error) : resolve(response))));
}

/** An AccessRequest as Envoy's CheckRequest. */
export function checkRequestFor(access: AccessRequest): object {
  const r = access.request;
  const peer = (p: AccessRequest['source']) =>
    p && {
      principal: p.principal,
      address: p.address ? { socket_address: { address: p.address, port_value: p.port ?? 0 } } : undefined,
      labels: p.labels,
    };
  return {
    attributes: {
      source: peer(access.source),
      destination: peer(access.destination),
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: { id: r.headers?.['x-request-id'], method: r.method, path: r.path, host: r.host, scheme: r.scheme ?? 'http', protocol: 'HTTP/1.1', headers: r.headers, body: r.body },
      },
      context_extensions: access.context,
    },
  };
}

/**
 * Envoy's StatusCode enum name for an HTTP code, as proto-loader decodes it with enums:
 * String; a code the enum does not list (451) stays a number, still carried on the wire.
 */
export const HTTP_STATUS_NAMES: Record<number, string | number> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 451: 451 };
