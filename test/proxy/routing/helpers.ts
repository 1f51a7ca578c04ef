/** Test helpers: compile Istio YAML through the real loader, and build route requests. */
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadResources, formatIssue, type PolicyIssue } from '../../../src/policy/index.js';
import { compileRouting, type Routing } from '../../../src/proxy/routing/index.js';
import type { RouteRequest } from '../../../src/proxy/types.js';

export interface Compiled {
  readonly routing: Routing;
  readonly issues: PolicyIssue[];
  readonly file: string;
  /** Issues as `file:line:col: message (field)` with the temp dir stripped. */
  readonly messages: string[];
}

export async function compileYaml(yaml: string, name = 'mesh.yaml'): Promise<Compiled> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-routing-'));
  const file = join(dir, name);
  try {
    await writeFile(file, yaml);
    const { resources, issues } = await loadResources([file]);
    const routing = compileRouting(resources, issues);
    return { routing, issues, file, messages: issues.map((i) => formatIssue(i).replace(dir + '/', '')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function compileFixture(file: string): Promise<Compiled> {
  const { resources, issues } = await loadResources([file]);
  const routing = compileRouting(resources, issues);
  return { routing, issues, file, messages: issues.map(formatIssue) };
}

export function request(overrides: Partial<RouteRequest> & { scheme?: string } = {}): RouteRequest {
  return {
    method: 'GET',
    path: '/',
    authority: 'reviews',
    headers: {},
    port: 80,
    sourceLabels: {},
    gateway: 'mesh',
    namespace: 'shop',
    ...overrides,
  };
}
