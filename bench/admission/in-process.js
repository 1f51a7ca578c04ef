#!/usr/bin/env node
// In-process admission decision rate: admit() with every policy under policies/ loaded, on the
// same mix of Pod and Deployment CREATE reviews (compliant and not, /validate and /mutate phases)
// as bench/admission/index.js. Prints calls/s; profile with
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/admission/in-process.js
// Usage: npx tsc -p tsconfig.json && node bench/admission/in-process.js [--iterations N] [--phase mutate|validate|both|mix]
import { parseArgs } from 'node:util';
import { admit } from '../../dist/engine/admission/index.js';
import { requestForObject } from '../../dist/engine/admission/request.js';
import { loadLibrary } from './library.js';
import { objects } from './workload.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '100000' }, phase: { type: 'string', default: 'mix' } } });
const ITERATIONS = Number(values.iterations);


const phasesToRun = values.phase === 'mix' ? ['validate', 'mutate'] : [values.phase];
// Each call gets its own copy of the request, parsed from JSON as the webhook gets it: reusing
// one object would keep it hot in the CPU caches, which a server never sees.
const COPIES = 200;
const templates = objects.flatMap((object) => phasesToRun.map((phase) => ({ phase, json: JSON.stringify(requestForObject(object)) })));
const calls = Array.from({ length: COPIES }, () => templates.map(({ phase, json }) => ({ phase, request: JSON.parse(json) }))).flat();

// ---- policies and params, as the webhook loads them ----
const { policies, cluster } = await loadLibrary();

// A fingerprint of the decisions, so a faster engine can be checked to decide the same way.
const summary = calls.slice(0, templates.length).map(({ phase, request }) => {
  const d = admit(policies, request, { phase, cluster });
  return `${request.kind.kind}/${request.name} ${phase}: ${d.allowed ? 'allowed' : `denied (${d.status.message.length} chars)`}, ${d.evaluations.length} evaluations, patch ${d.patch ? d.patch.length : 0} ops, ${d.warnings.length} warnings`;
});

/** Calls per second of wall-clock, and of this process's CPU time (steadier on a busy machine). */
function callsPerSecond(iterations) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const { request, phase } = calls[i % calls.length];
    admit(policies, request, { phase, cluster });
  }
  const used = process.cpuUsage(cpu);
  return { wall: iterations / (Number(process.hrtime.bigint() - started) / 1e9), cpu: iterations / ((used.user + used.system) / 1e6) };
}

callsPerSecond(Math.min(20000, ITERATIONS)); // warm-up: JIT
const runs = [callsPerSecond(ITERATIONS), callsPerSecond(ITERATIONS), callsPerSecond(ITERATIONS)];
const best = Math.max(...runs.map((r) => r.wall));
const bestCpu = Math.max(...runs.map((r) => r.cpu));
console.log(summary.join('\n'));
console.log(
  `node ${process.version}; ${policies.validating.length} validating + ${policies.mutating.length} mutating policies; ${templates.length} reviews (${values.phase}), ${COPIES} parsed copies of each;` +
    ` admit()/s best ${best.toFixed(0)} (runs: ${runs.map((r) => r.wall.toFixed(0)).join(', ')}; ${(1e6 / best).toFixed(1)} µs/call);` +
    ` per CPU-second best ${bestCpu.toFixed(0)} (${(1e6 / bestCpu).toFixed(1)} µs/call)`,
);
