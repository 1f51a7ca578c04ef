// The V8 flags celgate's servers ship with, so benchmarks measure memory as deployed: for `celgate
// serve`, the NODE_OPTIONS of webhooks/deployment.yaml (README and `npm start` use the same).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const SERVER_NODE_OPTIONS = (() => {
  const deployment = parseYaml(readFileSync(new URL('../webhooks/deployment.yaml', import.meta.url), 'utf8'));
  const env = deployment.spec.template.spec.containers[0].env ?? [];
  return (env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(' ').filter(Boolean);
})();

// The V8 flags docs/proxy.md recommends for `celgate proxy`: the small young generation only. The
// webhook's old-space ceiling (128 MB) made V8 collect so often under proxy load that CPU per
// request rose by half (96 → 146 µs on bench/proxy's plain case), for no RSS the bar needed.
export const PROXY_NODE_OPTIONS = ['--max-semi-space-size=4'];
