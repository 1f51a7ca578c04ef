#!/usr/bin/env node
// PKI throughput: SPIFFE workload certificates issued per second (with and without key
// generation), and full TLS handshakes per second of a server using createTlsContextSource
// against a plain Node TLS server with the same certificate, measured in the same run
// (alternating rounds). The bar for the handshake ratio is 0.9x.
// Usage: npm run build && node bench/pki/index.js [--rounds N --seconds S --concurrency C]
import { connect, createServer } from 'node:tls';
import { parseArgs } from 'node:util';
import { createRootCa, createTlsContextSource, generateKeyPair, issueCertificate, writePair } from '../../dist/pki/index.js';
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
const source = createTlsContextSource(files);
const plainOptions = { key: source.options.key, cert: source.options.cert }; // Node defaults otherwise

async function listen(options) {
  const server = createServer(options, (socket) => socket.end());
  server.on('tlsClientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const celgateServer = await listen(source.options);
const stopWatching = source.watch(celgateServer);
const plainServer = await listen(plainOptions);

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
console.log(`\nTLS handshakes per second (client and server in one process, ${CONCURRENCY} concurrent, median of ${ROUNDS} rounds of ${SECONDS}s):`);
console.log(`  createTlsContextSource (${probe})`.padEnd(60) + `${median(celgateRates).toFixed(0).padStart(7)}/s`);
console.log(`  plain tls.createServer, Node defaults`.padEnd(60) + `${median(plainRates).toFixed(0).padStart(7)}/s`);
console.log(`  ratio ${ratio.toFixed(2)}x (bar >= ${BAR}x): ${ratio >= BAR ? 'PASS' : 'FAIL'}`);

stopWatching();
celgateServer.close();
plainServer.close();
rmSync(dir, { recursive: true, force: true });
process.exitCode = ratio >= BAR ? 0 : 1;
