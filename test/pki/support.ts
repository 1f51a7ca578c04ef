/** Shared test helpers: temporary directories, the system openssl, real https servers and clients. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, Agent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export async function temporaryDirectory(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-pki-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], input?: string, timeout = 15000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    // A command that exits without reading its input (openssl x509 -in FILE) may close the pipe
    // first: the write then fails with EPIPE, and the exit code and output still tell the result.
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

export const openssl = (args: string[], input?: string) => run('openssl', args, input);

/** An https server answering with the peer's certificate serial and SPIFFE ID, as JSON. */
export async function startServer(
  options: object,
  handler: (socket: TLSSocket) => Record<string, unknown> = () => ({}),
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer(options, (req, res) => {
    const body = JSON.stringify({ ok: true, ...handler(req.socket as TLSSocket) });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Response {
  status: number;
  body: Record<string, unknown>;
  serverSerial: string;
  reused: boolean;
}

export function get(port: number, options: { ca: string; agent?: Agent; cert?: string; key?: string; servername?: string }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', method: 'GET', ca: options.ca, cert: options.cert, key: options.key, agent: options.agent ?? false, servername: options.servername ?? 'localhost' },
      (res) => {
        const socket = res.socket as TLSSocket;
        const serverSerial = socket.getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), serverSerial, reused: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
