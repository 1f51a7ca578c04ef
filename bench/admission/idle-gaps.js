#!/usr/bin/env node
// What an idle gap before each review costs: admit() on the benchmark's reviews back to back,
// then with the thread asleep for 0.1, 0.5 and 2 ms before each call (as a webhook waits for its
// next request), timing admit() alone. A machine whose vCPU loses its caches while idle shows it
// here; the webhook's per-review cost under load sits between the first and the last column.
// Usage: npx tsc -p tsconfig.json && node bench/admission/idle-gaps.js [--calls N]
import { parseArgs } from 'node:util';
import { admit } from '../../dist/engine/admission/index.js';
import { requestForObject } from '../../dist/engine/admission/request.js';
import { loadLibrary } from './library.js';
import { objects } from './workload.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '3000' } } });
const CALLS = Number(values.calls);

const reviews = objects.flatMap((object) => ['validate', 'mutate'].map((phase) => ({ phase, json: JSON.stringify(requestForObject(object)) })));
const { policies, cluster } = await loadLibrary();

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Mean µs inside admit() over `calls` calls, sleeping `gapMs` before each (0: none). */
function meanAdmit(calls, gapMs) {
  let total = 0n;
  for (let i = 0; i < calls; i++) {
    const { phase, json } = reviews[i % reviews.length];
    const request = JSON.parse(json);
    if (gapMs > 0) Atomics.wait(sleeper, 0, 0, gapMs);
    const started = process.hrtime.bigint();
    admit(policies, request, { phase, cluster });
    total += process.hrtime.bigint() - started;
  }
  return Number(total) / calls / 1000;
}

meanAdmit(20000, 0); // warm-up: JIT
const gaps = [0, 0.1, 0.5, 2];
const results = gaps.map((gap) => meanAdmit(CALLS, gap));
console.log(`node ${process.version}; ${CALLS} calls each; µs inside admit() per call`);
for (let i = 0; i < gaps.length; i++) {
  console.log(`${gaps[i] === 0 ? 'back to back' : `after ${gaps[i]} ms idle`}`.padEnd(20) + results[i].toFixed(1).padStart(8) + ` (${(results[i] / results[0]).toFixed(1)}x)`);
}
