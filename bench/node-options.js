// The V8 flags celgate's servers ship with: the NODE_OPTIONS of webhooks/deployment.yaml, which
// README and docs/proxy.md recommend for `celgate serve` and `celgate proxy` alike. Benchmarks
// start celgate's processes with them so memory is measured as deployed.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const SERVER_NODE_OPTIONS = (() => {
  const deployment = parseYaml(readFileSync(new URL('../webhooks/deployment.yaml', import.meta.url), 'utf8'));
  const env = deployment.spec.template.spec.containers[0].env ?? [];
  return (env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(' ').filter(Boolean);
})();
