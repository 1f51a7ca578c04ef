#!/usr/bin/env node
// Evaluations per second of representative admission and authorization expressions,
// through celgate's src/cel (compiled to dist/) and through the bare evaluator library,
// measured in the same run. Prints the per-evaluation cost ratio; the bar is 1.25x.
// Usage: npm run bench:cel [-- --rounds N --iterations N]
import { parseArgs } from 'node:util';
import { Environment } from '@marcbachmann/cel-js';
import { CelEnvironment, fromJson } from '../../dist/cel/index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, iterations: { type: 'string', default: '200000' } } });
const ROUNDS = Number(values.rounds);
const ITERATIONS = Number(values.iterations);
const BAR = 1.25;

const activation = fromJson({
  object: {
    metadata: { name: 'web-7d9f8', namespace: 'shop', labels: { app: 'web', tier: 'frontend' } },
    spec: {
      containers: Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, image: `registry.example.com/shop/web-${i}:1.${i}.0` })),
    },
  },
  request: { method: 'GET', path: '/api/v1/items', headers: { 'x-team': 'inventory', 'user-agent': 'curl/8.0' } },
});

const CASES = [
  ['5-container all(startsWith)', "object.spec.containers.all(c, c.image.startsWith('registry.example.com/'))"],
  ['header in list && method', "request.headers['x-team'] in ['payments', 'shop', 'inventory'] && request.method == 'GET'"],
  ['label has()', 'has(object.metadata.labels.app)'],
  ['regex matches', "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"],
  ['message concatenation', "'pod ' + object.metadata.name + ' in ' + object.metadata.namespace + ' uses ' + string(size(object.spec.containers)) + ' containers'"],
];

const celgate = new CelEnvironment({ variables: { object: 'dyn', request: 'dyn' } });
const bare = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false, enableOptionalTypes: true })
  .registerVariable('object', 'dyn')
  .registerVariable('request', 'dyn');

function nsPerEval(fn) {
  let sink;
  for (let i = 0; i < 20000; i++) sink = fn(activation);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) sink = fn(activation);
  const ns = Number(process.hrtime.bigint() - start) / ITERATIONS;
  if (sink === undefined) throw new Error('no result');
  return ns;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`node ${process.version}, ${ROUNDS} rounds x ${ITERATIONS} evaluations, median per case\n`);
console.log('case                          celgate ns   bare ns   celgate evals/s   ratio');
let worst = 0;
const ratios = [];
for (const [name, expr] of CASES) {
  const program = celgate.compile(expr);
  const ours = (a) => program.evaluate(a);
  const theirs = bare.parse(expr);
  theirs.check();
  if (JSON.stringify(String(ours(activation))) !== JSON.stringify(String(theirs(activation)))) {
    throw new Error(`${name}: results differ`);
  }
  const oursNs = [];
  const theirsNs = [];
  // Interleave the two so that machine noise hits both alike.
  for (let r = 0; r < ROUNDS; r++) {
    oursNs.push(nsPerEval(ours));
    theirsNs.push(nsPerEval(theirs));
  }
  const o = median(oursNs);
  const t = median(theirsNs);
  const ratio = o / t;
  ratios.push(ratio);
  worst = Math.max(worst, ratio);
  console.log(
    `${name.padEnd(29)} ${o.toFixed(0).padStart(10)} ${t.toFixed(0).padStart(9)} ${Math.round(1e9 / o).toLocaleString('en-US').padStart(17)}   ${ratio.toFixed(2)}x`,
  );
}
const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
console.log(`\ngeometric mean ratio ${geomean.toFixed(2)}x, worst ${worst.toFixed(2)}x (bar: each <= ${BAR}x)`);
process.exitCode = worst <= BAR ? 0 : 1;
