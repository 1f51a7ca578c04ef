/**
 * `celgate serve --kubernetes --kubeconfig FILE` as processes (the built binary; `npx tsc -p
 * tsconfig.json` first), for the tests that run replicas against the fake API server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';

export interface Replica {
  child: ChildProcess;
  url: string;
  /** The ext_authz HTTP listener, when started with --authz-http-port. */
  authzUrl?: string;
  /** The certificates directory (ca.crt is the serving CA). */
  certs: string;
  ca: Buffer;
  client: Agent;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts one replica; ext_authz is off unless `extra` names --authz-http-port. */
export async function startReplica(kubeconfig: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Replica> {
  const certs = join(await mkdtemp(join(tmpdir(), 'celgate-k8s-replica-')), 'certs');
  const authz = extra.includes('--authz-http-port');
  const args = ['bin/celgate.js', 'serve', '--kubernetes', '--kubeconfig', kubeconfig, '--port', '0', '--host', '127.0.0.1', '--certs', certs, ...(authz ? [] : ['--authz-http-port', 'off']), '--authz-grpc-port', 'off', ...extra];
  const child = spawn('node', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const [url, authzUrl] = await new Promise<[string, string | undefined]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its URL; stderr: ${stderr}`)), 30000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /admission webhook: (https:\/\/\S+)/.exec(stdout);
      const authzMatch = /ext_authz HTTP: (https:\/\/[^/\s]+)/.exec(stdout);
      if (match && (!authz || authzMatch)) {
        clearTimeout(timer);
        resolve([match[1]!, authzMatch?.[1]]);
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const ca = await readFile(join(certs, 'ca.crt'));
  return { child, url, ...(authzUrl ? { authzUrl } : {}), certs, ca, client: new Agent({ connect: { ca } }), stderr: () => stderr, exited };
}

/** Kills and forgets every replica in `replicas`. */
export async function stopReplicas(replicas: Replica[]): Promise<void> {
  for (const replica of replicas.splice(0)) {
    replica.child.kill('SIGKILL');
    await replica.exited;
    await replica.client.close();
  }
}

/** POSTs an AdmissionReview to /validate and returns the answer's verdict and message. */
export async function validate(replica: Replica, review: unknown): Promise<{ allowed: boolean; message?: string }> {
  const response = await request(`${replica.url}/validate`, { method: 'POST', dispatcher: replica.client, headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) });
  const body = (await response.body.json()) as { response: { allowed: boolean; status?: { message?: string } } };
  return { allowed: body.response.allowed, ...(body.response.status?.message ? { message: body.response.status.message } : {}) };
}

export async function readyz(replica: Replica): Promise<number> {
  const response = await request(`${replica.url}/readyz`, { dispatcher: replica.client });
  await response.body.dump();
  return response.statusCode;
}
