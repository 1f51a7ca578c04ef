/** What the long-running commands (`serve`, `proxy`) share: the log level flag and stopping on a signal. */
import { UsageError } from './usage.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The pino level of `--log-level` (default info); a usage error for an unknown one. */
export function logLevel(text: string | undefined): string {
  const level = text ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level: unknown level '${level}'`);
  return level;
}

/** Resolves with the first SIGINT or SIGTERM, then stops listening for them. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
