// The demo's child processes (applications and sidecars): start, wait until ready, stop.
// Every child is tracked so that nothing outlives the demo, whether it ends normally, on an
// error or on Ctrl-C. Output goes to RUN/logs/NAME.{app,proxy}.log, never to the terminal.
import { fork, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { EXAMPLE_DIR } from './run-dir.js';

const REPO_DIR = join(EXAMPLE_DIR, '..', '..');
const CELGATE = join(REPO_DIR, 'bin', 'celgate.js');

export class Supervisor {
  #children = new Map();
  /** Exits nobody asked for: `name: code/signal`. */
  unexpectedExits = [];

  constructor(runDir) {
    this.runDir = runDir;
  }

  /** Starts a service script (services/SCRIPT) with `env`; resolves once it listens. */
  async startApp(name, script, env) {
    const log = openSync(join(this.runDir, 'logs', `${name}.app.log`), 'a');
    // `--shop-run DIR` only marks the process as part of this run (leftovers can be found by it).
    const child = fork(join(EXAMPLE_DIR, 'services', script), ['--shop-run', this.runDir], {
      env: { ...process.env, ...env },
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    this.#track(`${name} app`, child);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: the application did not start within 10 s (see ${join(this.runDir, 'logs', `${name}.app.log`)})`)), 10_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name}: the application exited at start-up (${signal ?? `code ${code}`}):\n${tail(join(this.runDir, 'logs', `${name}.app.log`))}`));
      });
    });
    return child;
  }

  /** Starts `celgate proxy --config CONFIG`; resolves once its admin server says /ready. */
  async startProxy(name, config, adminPort) {
    const logFile = join(this.runDir, 'logs', `${name}.proxy.log`);
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, [CELGATE, 'proxy', '--config', config, '--log-level', 'warn'], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.#track(`${name} sidecar`, child);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name}: the sidecar exited at start-up (${child.signalCode ?? `code ${child.exitCode}`}):\n${tail(logFile)}`);
      }
      try {
        const response = await request(`http://127.0.0.1:${adminPort}/ready`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
        await response.body.dump();
        if (response.statusCode === 200) return child;
      } catch {}
      await sleep(100);
    }
    throw new Error(`${name}: the sidecar was not ready within 20 s (admin port ${adminPort}):\n${tail(logFile)}`);
  }

  /** SIGKILL, as a crash would: the exit is expected, not an error. */
  crash(child) {
    this.#children.get(child).expected = true;
    child.kill('SIGKILL');
  }

  /** SIGTERM to every child still running; SIGKILL after `graceMs`. Resolves when all have exited. */
  async stopAll(graceMs = 5_000) {
    const running = [...this.#children.entries()].filter(([child]) => child.exitCode === null && child.signalCode === null);
    await Promise.all(
      running.map(([child, state]) => {
        state.expected = true;
        return new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }),
    );
  }

  /** Synchronous last resort (process 'exit' handlers cannot wait). */
  killAllNow() {
    for (const child of this.#children.keys()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  pids() {
    return [...this.#children.keys()].map((c) => c.pid);
  }

  #track(label, child) {
    const state = { expected: false };
    this.#children.set(child, state);
    child.on('error', (error) => this.unexpectedExits.push(`${label}: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (!state.expected) this.unexpectedExits.push(`${label} exited unexpectedly (${signal ?? `code ${code}`})`);
    });
  }
}

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
