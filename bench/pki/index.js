#!/usr/bin/env node
// PKI throughput: SPIFFE workload certificates issued per second (with and without key
// generation), and full TLS handshakes per second of `celgate serve` (its webhook listener, in
// its own process) against a plain Node TLS server (also its own process) with the same
// certificate, measured in the same run (alternating rounds). The bar for the ratio is 0.9x.
// Usage: npm run build && node bench/pki/index.js [--rounds N --seconds S --concurrency C]
import { spawn } from 'node:child_process';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { createRootCa, generateKeyPair, issueCertificate, writeCa, writePair } from '../../dist/pki/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '1' }, concurrency: { type: 'string', default: '8' } },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const BAR = 0.9;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function perSecond(fn, seconds = SECONDS) {
  const end = performance.now() + seconds * 1000;
  let count = 0;
  const start = performance.now();
  while (performance.now() < end) {
    fn();
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

// --- issuance ---
const ca = createRootCa();
const spiffeId = 'spiffe://cluster.local/ns/shop/sa/payment';
const reused = generateKeyPair('ec-p256');
perSecond(() => issueCertificate(ca, { profile: 'workload', spiffeId }), 0.3); // warm-up
const issuance = [
  ['workload EC P-256, key generated', () => issueCertificate(ca, { profile: 'workload', spiffeId })],
  ['workload EC P-256, key reused (sign only)', () => issueCertificate(ca, { profile: 'workload', spiffeId, keyPair: reused })],
  ['workload RSA 2048, key generated', () => issueCertificate(ca, { profile: 'workload', spiffeId, keyType: 'rsa-2048' })],
];
console.log('certificates issued per second (median of %d rounds of %ds):', ROUNDS, SECONDS);
for (const [name, fn] of issuance) {
  const rates = Array.from({ length: ROUNDS }, () => perSecond(fn));
  console.log(`  ${name.padEnd(44)} ${median(rates).toFixed(0).padStart(7)}/s`);
}

// --- handshakes ---
const dir = mkdtempSync(join(tmpdir(), 'celgate-bench-pki-'));
const files = await writePair(dir, 'serving', issueCertificate(ca, { profile: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }));
await writeCa(dir, ca);

/** Starts a server process and resolves with its port, read from the first line matching `pattern`. */
function startProcess(args, pattern) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

// celgate serve on the pair just written (it keeps a valid pair it finds in --certs).
const celgate = await startProcess(
  ['bin/celgate.js', 'serve', '--certs', dir, '--host', '127.0.0.1', '--port', '0', '--authz-http-port', 'off', '--authz-grpc-port', 'off'],
  /admission webhook: https:\/\/127\.0\.0\.1:(\d+)/,
);
// A plain Node TLS server with the same certificate and Node's defaults otherwise.
const plainScript = `
const { readFileSync } = require('node:fs');
const server = require('node:tls').createServer({ key: readFileSync(${JSON.stringify(files.keyFile)}), cert: readFileSync(${JSON.stringify(files.certFile)}) }, (s) => s.end());
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));`;
const plain = await startProcess(['-e', plainScript], /port (\d+)/);
const celgateServer = { address: () => ({ port: celgate.port }) };
const plainServer = { address: () => ({ port: plain.port }) };

function handshakesPerSecond(port) {
  return new Promise((resolve) => {
    const end = performance.now() + SECONDS * 1000;
    const start = performance.now();
    let done = 0;
    let active = CONCURRENCY;
    const one = () => {
      if (performance.now() >= end) {
        if (--active === 0) resolve(done / ((performance.now() - start) / 1000));
        return;
      }
      const socket = connect({ host: '127.0.0.1', port, ca: ca.certificatePem, servername: 'localhost' });
      socket.once('secureConnect', () => {
        done++;
        socket.destroy();
        one();
      });
      socket.once('error', () => {
        socket.destroy();
        one();
      });
    };
    for (let i = 0; i < CONCURRENCY; i++) one();
  });
}

await handshakesPerSecond(plainServer.address().port); // warm-up
const celgateRates = [];
const plainRates = [];
for (let round = 0; round < ROUNDS; round++) {
  // alternate the order so neither server always runs on a warmer or cooler machine
  if (round % 2 === 0) {
    celgateRates.push(await handshakesPerSecond(celgateServer.address().port));
    plainRates.push(await handshakesPerSecond(plainServer.address().port));
  } else {
    plainRates.push(await handshakesPerSecond(plainServer.address().port));
    celgateRates.push(await handshakesPerSecond(celgateServer.address().port));
  }
}
const probe = await new Promise((resolve) => {
  const socket = connect({ host: '127.0.0.1', port: celgateServer.address().port, ca: ca.certificatePem, servername: 'localhost' }, () => {
    resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
    socket.destroy();
  });
});
const ratio = median(celgateRates) / median(plainRates);
console.log(`\nTLS handshakes per second (each server its own process, ${CONCURRENCY} concurrent clients, median of ${ROUNDS} rounds of ${SECONDS}s):`);
console.log(`  celgate serve, webhook listener (${probe})`.padEnd(60) + `${median(celgateRates).toFixed(0).padStart(7)}/s`);
console.log(`  plain tls.createServer process, Node defaults`.padEnd(60) + `${median(plainRates).toFixed(0).padStart(7)}/s`);
console.log(`  ratio ${ratio.toFixed(2)}x (bar >= ${BAR}x): ${ratio >= BAR ? 'PASS' : 'FAIL'}`);

celgate.child.kill('SIGTERM');
plain.child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
process.exitCode = ratio >= BAR ? 0 : 1;
