/**
 * A minimal JSON client for the Kubernetes API: GET (discovery, lists) and writes, authenticated
 * and trusted exactly as the kubeconfig says (client-node's KubeConfig applies token, client
 * certificate and CA). Every call is bounded in time and response size.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** An API answer other than 2xx, carrying the Status the server sent. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface KubeClientOptions {
  readonly timeoutMs?: number;
  /** Largest response accepted (default 64 MiB: a big list of policies). */
  readonly maxResponseBytes?: number;
}

export class KubeClient {
  readonly server: string;
  readonly #config: KubeConfig;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;

  constructor(config: KubeConfig, options: KubeClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.#config = config;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  get config(): KubeConfig {
    return this.#config;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(this.server + path);
    const options: RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.#config.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) options.headers = { ...options.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(payload) };
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, options, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#maxBytes) {
            req.destroy(new KubeApiError(0, `${method} ${path}: the response is larger than ${this.#maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            if (parsed === undefined && text !== '') reject(new KubeApiError(status, `${method} ${path}: the response is not JSON`));
            else resolve(parsed as T);
            return;
          }
          const kubeStatus = parsed as { message?: string; reason?: string } | undefined;
          reject(new KubeApiError(status, `${method} ${path}: ${status} ${kubeStatus?.message ?? response.statusMessage ?? ''}`.trim(), kubeStatus?.reason));
        });
      });
      req.setTimeout(this.#timeoutMs, () => req.destroy(new KubeApiError(0, `${method} ${path}: no answer within ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
