#!/usr/bin/env node
// The shop mesh demo (`npm run demo`): shopping, payment and inventory (v1 ×2, v2) on
// 127.0.0.1, each beside a celgate sidecar, an ingress gateway in front, mutual TLS between
// them, Istio routing and policies from mesh/*.yaml. It drives a burst of traffic, kills one inventory v1 application
// midway and restarts it, prints what the mesh did, and stops everything.
//
// Usage: node examples/shop/demo.js [--duration SECONDS] [--rate N] [--base PORT] [--keep]
// Exit codes: 0 the run met its bar (no idempotent request lost, every forbidden call refused),
// 1 it did not, 2 usage error.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { checkBase, findFreeBase } from './lib/ports.js';
import { Progress } from './lib/progress.js';
import { Supervisor } from './lib/processes.js';
import { analyse, formatSummary, parseMetrics, readAccessLog, summaryData } from './lib/report.js';
import { prepareRunDir } from './lib/run-dir.js';
import { INGRESS, PROXIES, SHOP_HOST, VICTIM, WORKLOADS, portOf, workload } from './lib/topology.js';
import { TrafficDriver } from './lib/traffic.js';

const HELP = `Usage: node examples/shop/demo.js [OPTIONS]   (npm run demo)

Starts the shop mesh on 127.0.0.1 (5 applications, 5 celgate sidecars, an ingress gateway),
sends traffic for --duration seconds, kills one inventory v1 application halfway and restarts
it at three quarters, then prints a summary and stops everything.

Options:
  --duration SECONDS  length of the traffic burst (default 60, at least 4)
  --rate N            requests per second (default 100)
  --base PORT         first port of the 50-port block to use (default: a free block from 20000)
  --keep              keep the run directory (configs, certificates, access logs)
  --summary-json FILE also write the summary's numbers as JSON (for tests and scripts)
  -h, --help          shows this help`;

function usage(message) {
  console.error(`demo: ${message}\n\n${HELP}`);
  process.exit(2);
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        duration: { type: 'string' },
        rate: { type: 'string' },
        base: { type: 'string' },
        keep: { type: 'boolean' },
        'summary-json': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
  } catch (error) {
    usage(error.message);
  }
  if (parsed.values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const number = (name, fallback, min, max) => {
    const text = parsed.values[name];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) usage(`--${name} must be a number from ${min} to ${max}, found '${text}'`);
    return value;
  };
  return {
    durationS: number('duration', 60, 4, 3600),
    rate: number('rate', 100, 1, 5000),
    base: parsed.values.base === undefined ? undefined : Math.floor(number('base', 0, 1024, 65535 - 50)),
    keep: Boolean(parsed.values.keep),
    summaryJson: parsed.values['summary-json'],
  };
}

async function getText(url) {
  const response = await request(url, { headersTimeout: 3_000, bodyTimeout: 3_000 });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${text.slice(0, 200)}`);
  return text;
}

/** The victim endpoint's state as shopping's sidecar sees it (every cluster that holds it). */
async function victimState(base) {
  const id = `127.0.0.1:${portOf(base, VICTIM, 'inbound')}`;
  const clusters = JSON.parse(await getText(`http://127.0.0.1:${portOf(base, 'shopping', 'admin')}/clusters`));
  const states = clusters.flatMap((c) => c.endpoints.filter((e) => e.endpoint.id === id));
  if (states.length === 0) return undefined;
  return { healthy: states.every((s) => s.healthy), ejected: states.some((s) => s.ejected) };
}

/**
 * Sends user calls until one works end to end (the mesh is up, at most 15 s), then a few
 * concurrent rounds so the sidecars' mTLS connections exist before the burst (handshakes are the
 * expensive part of a new connection). Returns how many calls it sent.
 */
async function warmUp(base) {
  const sent = (await firstAnswer(base)) + 1;
  const url = `http://127.0.0.1:${portOf(base, INGRESS.name, 'gateway')}/api/v1/cart`;
  const ROUNDS = 3;
  const CONCURRENCY = 16;
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        try {
          const response = await request(url, { headers: { host: SHOP_HOST }, headersTimeout: 10_000, bodyTimeout: 10_000 });
          await response.body.dump();
        } catch {}
      }),
    );
  }
  return sent + ROUNDS * CONCURRENCY;
}

/** Retries GET /api/v1/cart until it answers 200; resolves the number of failed tries. */
async function firstAnswer(base) {
  let failures = 0;
  const url = `http://127.0.0.1:${portOf(base, INGRESS.name, 'gateway')}/api/v1/cart`;
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await request(url, { headersTimeout: 5_000, bodyTimeout: 5_000, headers: { host: SHOP_HOST } });
      last = `${response.statusCode} ${(await response.body.text()).slice(0, 300)}`;
      if (response.statusCode === 200) return failures;
    } catch (error) {
      last = error.message;
    }
    failures++;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the mesh did not answer GET /api/v1/cart within 15 s; last answer: ${last}`);
}

async function main() {
  const options = parseOptions();
  let base;
  let runDir;
  try {
    base = options.base ?? (await findFreeBase());
    if (options.base !== undefined) await checkBase(base);
    runDir = await prepareRunDir(base);
  } catch (error) {
    process.stderr.write(`demo: ${error.message}\n`);
    return 1;
  }
  options.base = base;
  const supervisor = new Supervisor(runDir);

  let stopping;
  const stop = () => (stopping ??= supervisor.stopAll());
  // Ctrl-C / kill: stop the children, then leave. 'exit' is the last resort for errors.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\ndemo: ${signal}: stopping the shop\n`);
      void stop().finally(() => {
        if (!options.keep) rmSync(runDir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  process.on('exit', () => supervisor.killAllNow());

  const progressOut = process.stderr;
  try {
    progressOut.write(`demo: run directory ${runDir}, ports ${base}-${base + 49}\n`);
    const appEnv = (w) => ({
      PORT: String(portOf(base, w.name, 'app')),
      VERSION: w.version,
      INSTANCE: w.name,
      ...(w.ports.outbound !== undefined ? { SIDECAR: `http://127.0.0.1:${portOf(base, w.name, 'outbound')}` } : {}),
    });
    const apps = new Map();
    await Promise.all(WORKLOADS.map(async (w) => apps.set(w.name, await supervisor.startApp(w.name, w.script, appEnv(w)))));
    progressOut.write('demo: 5 applications listening; starting 5 sidecars and the ingress gateway\n');
    await Promise.all(PROXIES.map((w) => supervisor.startProxy(w.name, join(runDir, 'proxies', `${w.name}.yaml`), portOf(base, w.name, 'admin'))));
    const warmUpCalls = await warmUp(base);
    progressOut.write(`demo: mesh ready; ${options.durationS} s of traffic at ${options.rate} req/s\n`);

    const durationMs = options.durationS * 1000;
    const driver = new TrafficDriver({
      ingressUrl: `http://127.0.0.1:${portOf(base, INGRESS.name, 'gateway')}`,
      shopHost: SHOP_HOST,
      shoppingOutbound: `http://127.0.0.1:${portOf(base, 'shopping', 'outbound')}`,
      inventoryOutbound: `http://127.0.0.1:${portOf(base, 'inventory-v2', 'outbound')}`,
      paymentInbound: portOf(base, 'payment', 'inbound'),
      rate: options.rate,
      durationMs,
    });
    const progress = new Progress(durationMs);
    const timeline = { victim: VICTIM, killedAt: undefined, restartedAt: undefined, observations: [] };
    const seconds = (elapsed) => (elapsed / 1000).toFixed(1);
    let elapsedNow = 0;
    let victimNote = '';
    let restarting;
    let lastState = { healthy: true, ejected: false };
    let polling = false;
    const watchVictim = async () => {
      if (polling) return;
      polling = true;
      try {
        const state = await victimState(base);
        if (!state) return;
        const at = seconds(elapsedNow);
        if (state.ejected !== lastState.ejected) timeline.observations.push(`${state.ejected ? 'ejected' : 'back from ejection'} at ${at} s`);
        if (state.healthy !== lastState.healthy) timeline.observations.push(`health check ${state.healthy ? 'healthy again' : 'unhealthy'} at ${at} s`);
        if (state.ejected !== lastState.ejected || state.healthy !== lastState.healthy) progress.event(`  ${VICTIM}: ${state.ejected ? 'ejected' : 'not ejected'}, ${state.healthy ? 'healthy' : 'unhealthy'} (${at} s)`);
        lastState = state;
      } catch {
        // The admin server is busy or gone: the next poll will tell.
      } finally {
        polling = false;
      }
    };
    const poller = setInterval(() => void watchVictim(), 250);
    await driver.run((elapsed) => {
      elapsedNow = elapsed;
      if (timeline.killedAt === undefined && elapsed >= durationMs * 0.5) {
        timeline.killedAt = seconds(elapsed);
        supervisor.crash(apps.get(VICTIM));
        victimNote = `  ${VICTIM} down`;
        progress.event(`  ${VICTIM}: application killed (SIGKILL) at ${timeline.killedAt} s`);
      }
      if (timeline.killedAt !== undefined && !restarting && elapsed >= durationMs * 0.75) {
        const w = workload(VICTIM);
        restarting = supervisor.startApp(w.name, w.script, appEnv(w)).then(
          (child) => {
            apps.set(VICTIM, child);
            timeline.restartedAt = seconds(elapsedNow);
            victimNote = '';
            progress.event(`  ${VICTIM}: application restarted at ${timeline.restartedAt} s`);
          },
          (error) => {
            supervisor.unexpectedExits.push(`restarting ${VICTIM}: ${error.message}`);
          },
        );
      }
      let failed = 0;
      for (const r of driver.results.values()) failed += r.failed;
      progress.update(elapsed, `${String(driver.sent).padStart(6)} sent, ${String(driver.inFlight).padStart(3)} in flight, ${failed} unexpected${victimNote}`);
    });
    await restarting;
    // Let the last health check see the restarted application before reading the state.
    await new Promise((r) => setTimeout(r, 1_200));
    await watchVictim();
    clearInterval(poller);
    progress.done();
    await driver.close();

    const metrics = {};
    for (const w of PROXIES) metrics[w.name] = parseMetrics(await getText(`http://127.0.0.1:${portOf(base, w.name, 'admin')}/metrics`));
    await stop();
    // Sidecars flush their access logs when they stop.
    const logs = {};
    for (const w of PROXIES) logs[w.name] = readAccessLog(join(runDir, 'logs', `${w.name}.access.log`));

    const unexpectedExits = supervisor.unexpectedExits;
    const analysis = analyse({ driver, metrics, logs, timeline });
    console.log(formatSummary({ options, driver, analysis, unexpectedExits, warmUpCalls }));
    const ok = analysis.lostIdempotent === 0 && analysis.wronglyAllowed === 0 && unexpectedExits.length === 0;
    console.log(ok ? '\nOK: no idempotent request lost, every forbidden call refused.' : '\nFAILED: see above.');
    if (options.summaryJson) {
      writeFileSync(options.summaryJson, JSON.stringify({ ok, runDir, pids: supervisor.pids(), ...summaryData({ driver, analysis, unexpectedExits, warmUpCalls }) }, null, 2));
    }
    if (options.keep) console.log(`Run directory kept: ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
    return ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`\ndemo: ${error.message}\n`);
    await stop();
    process.stderr.write(`demo: logs kept in ${join(runDir, 'logs')}\n`);
    return 1;
  }
}

process.exitCode = await main();
