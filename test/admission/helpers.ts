/** Shared pieces of the webhook tests: real certificates, a real server, a real HTTPS client. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Agent, request } from 'undici';
import { createAdmissionServer, type AdmissionServer, type AdmissionServerOptions } from '../../src/admission/index.js';
import { requestForObject, type RequestForObjectOptions } from '../../src/engine/admission/request.js';
import { ensureServingCertificates } from '../../src/pki/index.js';

export const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

export interface TestTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** A CA and a serving certificate for 127.0.0.1, made by celgate's own PKI in a temp dir. */
export async function testTls(): Promise<TestTls & { dir: string; certFile: string; keyFile: string; caFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-admission-tls-'));
  const files = await ensureServingCertificates(dir, { ipAddresses: ['127.0.0.1'] });
  const [cert, key, ca] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8'), readFile(files.caFile, 'utf8')]);
  return { cert, key, ca, dir, ...files };
}

/** A logger whose JSON lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

export interface Running {
  readonly server: AdmissionServer;
  readonly url: string;
  readonly client: Agent;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string }>;
  get(path: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export async function startServer(tls: TestTls, options: Omit<AdmissionServerOptions, 'tls'>): Promise<Running> {
  const server = await createAdmissionServer({ tls: { cert: tls.cert, key: tls.key }, logger: pino({ level: 'silent' }), ...options });
  const url = await server.listen(0, '127.0.0.1');
  const client = new Agent({ connect: { ca: tls.ca }, keepAliveTimeout: 1000 });
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await request(`${url}${path}`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await response.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, json, text };
  };
  const get = async (path: string) => {
    const response = await request(`${url}${path}`, { dispatcher: client });
    return { status: response.statusCode, text: await response.body.text() };
  };
  return {
    server,
    url,
    client,
    post,
    get,
    async stop() {
      await client.close();
      await server.close();
    },
  };
}

/** An AdmissionReview (admission.k8s.io/v1 unless told) for an object, as kube-apiserver sends it. */
export function reviewFor(object: unknown, options: RequestForObjectOptions = {}, apiVersion = 'admission.k8s.io/v1') {
  return { apiVersion, kind: 'AdmissionReview', request: requestForObject(object, options) };
}
