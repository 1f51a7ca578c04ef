#!/usr/bin/env node
// Wall-clock of `celgate test` (process start-up included) on 1,000 generated cases over the
// pod-security restricted library (policies/pod-security/restricted; a generated set of 20
// ValidatingAdmissionPolicies when that is missing). The bar is 3 s for the 1,000 cases.
// Per-case cost is the difference between a 1,000-case and a 10-case run, divided by 990.
// Usage: npm run build && node bench/test-runner/index.js [--cases N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' } } });
const CASES = Number(values.cases);
const ROUNDS = Number(values.rounds);
const BAR_MS = 3000;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin/celgate.js');
const library = join(root, 'policies/pod-security/restricted');

/** A pod the restricted profile admits; each variant breaks one control. */
const GOOD_POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'web',
        image: 'registry.example.com/shop/web:1.2.3',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
    volumes: [{ name: 'config', configMap: { name: 'web' } }],
  },
};

const RESTRICTED_VARIANTS = [
  { name: 'compliant', patch: [], allowed: true },
  { name: 'privilege escalation', patch: [{ op: 'replace', path: '/spec/containers/0/securityContext/allowPrivilegeEscalation', value: true }], allowed: false },
  { name: 'added SYS_ADMIN', patch: [{ op: 'add', path: '/spec/containers/0/securityContext/capabilities/add', value: ['SYS_ADMIN'] }], allowed: false },
  { name: 'runs as root', patch: [{ op: 'replace', path: '/spec/securityContext/runAsNonRoot', value: false }], allowed: false },
  { name: 'unconfined seccomp', patch: [{ op: 'replace', path: '/spec/securityContext/seccompProfile/type', value: 'Unconfined' }], allowed: false },
  { name: 'hostPath volume', patch: [{ op: 'add', path: '/spec/volumes/-', value: { name: 'host', hostPath: { path: '/var' } } }], allowed: false },
  { name: 'user 0', patch: [{ op: 'add', path: '/spec/securityContext/runAsUser', value: 0 }], allowed: false },
  { name: 'NET_BIND_SERVICE is fine', patch: [{ op: 'add', path: '/spec/containers/0/securityContext/capabilities/add', value: ['NET_BIND_SERVICE'] }], allowed: true },
];

/** Fallback when the library is missing: 20 VAPs, each requiring one label. */
function generatedPolicies(dir) {
  const docs = [];
  for (let i = 0; i < 20; i++) {
    docs.push(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: label-${i}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"]}]
  validations:
    - expression: "!has(object.metadata.labels) || !('forbidden-${i}' in object.metadata.labels)"
      message: "label forbidden-${i} is not allowed"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: label-${i}}
spec: {policyName: label-${i}, validationActions: [Deny]}`);
  }
  writeFileSync(join(dir, 'policies.yaml'), docs.join('\n---\n'));
  return {
    policies: join(dir, 'policies.yaml'),
    variants: [
      { name: 'compliant', patch: [], allowed: true },
      ...Array.from({ length: 20 }, (_, i) => ({ name: `forbidden label ${i}`, patch: [{ op: 'add', path: '/metadata/labels', value: { [`forbidden-${i}`]: 'x' } }], allowed: false })),
    ],
  };
}

function writeSuites(dir, count, policies, variants) {
  mkdirSync(dir, { recursive: true });
  const perSuite = 100;
  for (let s = 0; s * perSuite < count; s++) {
    const lines = [
      'apiVersion: celgate.dev/v1alpha1',
      'kind: PolicyTest',
      `metadata: {name: bench-${s}}`,
      'spec:',
      `  policies: [${JSON.stringify(policies)}]`,
      `  fixtures: {good: ${JSON.stringify(GOOD_POD)}}`,
      '  cases:',
    ];
    for (let i = s * perSuite; i < Math.min(count, (s + 1) * perSuite); i++) {
      const v = variants[i % variants.length];
      lines.push(`    - name: ${JSON.stringify(`${i} ${v.name}`)}`);
      lines.push(`      admission: {object: {fixture: good, jsonPatch: ${JSON.stringify(v.patch)}}}`);
      lines.push(`      expect: {allowed: ${v.allowed}}`);
    }
    writeFileSync(join(dir, `suite-${s}.test.yaml`), lines.join('\n') + '\n');
  }
}

// Reports the child's own CPU time on exit: on a shared machine wall-clock includes waiting for a core.
const CPU_HOOK = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\ncpu-ms '+((u.user+u.system)/1000).toFixed(0)+'\\n')})`;

function timeRun(dir) {
  const started = process.hrtime.bigint();
  const run = spawnSync('node', ['--import', CPU_HOOK, bin, 'test', dir, '--output', 'json'], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = Number(/cpu-ms (\d+)/.exec(run.stderr)?.[1] ?? NaN);
  if (run.status !== 0) {
    console.error(run.stdout.slice(0, 4000), run.stderr.slice(0, 4000));
    throw new Error(`celgate test exited ${run.status}`);
  }
  const report = JSON.parse(run.stdout);
  return { ms, cpu, passed: report.passed, inProcessMs: report.durationMs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'celgate-bench-test-'));
try {
  const useLibrary = existsSync(library);
  const { policies, variants } = useLibrary ? { policies: library, variants: RESTRICTED_VARIANTS } : generatedPolicies(work);
  writeSuites(join(work, 'big'), CASES, policies, variants);
  writeSuites(join(work, 'small'), 10, policies, variants);
  timeRun(join(work, 'small')); // warm the file cache
  const big = [];
  const bigCpu = [];
  const small = [];
  let last;
  for (let r = 0; r < ROUNDS; r++) {
    last = timeRun(join(work, 'big'));
    big.push(last.ms);
    bigCpu.push(last.cpu);
    small.push(timeRun(join(work, 'small')).ms);
  }
  const wall = median(big);
  const perCase = (wall - median(small)) / (CASES - 10);
  console.log(`policies: ${useLibrary ? 'policies/pod-security/restricted' : '20 generated VAPs'}; ${CASES} cases, ${last.passed} passed; ${ROUNDS} rounds (median)`);
  console.log(`celgate test wall-clock (with start-up): ${wall.toFixed(0)} ms (bar ${BAR_MS} ms) ${wall <= BAR_MS ? 'OK' : 'OVER'}`);
  console.log(`CPU time of the 1,000-case process (user + system): ${median(bigCpu)} ms; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
  console.log(`10-case run (start-up and loading): ${median(small).toFixed(0)} ms`);
  console.log(`per case: ${(perCase * 1000).toFixed(0)} µs (wall-clock difference); in-process run of the cases: ${last.inProcessMs} ms`);
  process.exitCode = wall <= BAR_MS ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
