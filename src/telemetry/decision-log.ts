/**
 * The decision log: one JSON line per access decision (pino), with secrets redacted before
 * anything reaches the destination.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { AccessDecision, AccessRequest, MatchedRule } from '../engine/access/types.js';
import { lineFile } from './batched-file.js';
import { isoTime } from './json-text.js';

/** Header values that never reach a log: credentials and session cookies. */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];

export interface DecisionLogOptions {
  /** Where lines go; defaults to standard output (batched, see batched-file.ts). */
  readonly destination?: DestinationStream;
  /** Extra header names to redact (case-insensitive), on top of the defaults. */
  readonly redactHeaders?: readonly string[];
}

export interface DecisionRecord {
  readonly face: 'http' | 'grpc' | 'check';
  readonly request: AccessRequest;
  readonly decision: AccessDecision;
  readonly latencyMs: number;
  /** Set when evaluation failed and failOpen/failClosed decided instead of a policy. */
  readonly error?: string;
}

export interface DecisionLog {
  write(record: DecisionRecord): void;
  /** Resolves when buffered lines have been written out (call before exiting). */
  flush(): Promise<void>;
}

/** The rule whose action produced the outcome: the first DENY for a denial, the first ALLOW for an allow. */
export function decidingRule(decision: AccessDecision): MatchedRule | undefined {
  const wanted = decision.allowed ? 'ALLOW' : 'DENY';
  return decision.matched.find((m) => m.action === wanted) ?? decision.matched[0];
}

export function createDecisionLog(options: DecisionLogOptions = {}): DecisionLog {
  const redacted = new Set([...DEFAULT_REDACTED_HEADERS, ...(options.redactHeaders ?? [])].map((h) => h.toLowerCase()));
  const destination: DestinationStream & { flush?: () => unknown } = options.destination ?? lineFile('stdout');
  const logger: Logger = pino({ base: undefined, messageKey: 'msg', timestamp: isoTimestamp }, destination);
  return {
    write(record) {
      const { request, decision } = record;
      const rule = decidingRule(decision);
      logger.info({
        id: decision.id,
        face: record.face,
        attributes: {
          source: request.source,
          destination: request.destination,
          connection: request.connection,
          context: request.context,
          request: {
            method: request.request.method,
            path: request.request.path,
            host: request.request.host,
            scheme: request.request.scheme,
            protocol: request.request.protocol,
            headers: redactHeaders(request.request.headers, redacted),
            // The body is never logged: it may be large and hold anything.
            bodyBytes: request.request.body === undefined ? undefined : Buffer.byteLength(request.request.body),
          },
        },
        decision: { allowed: decision.allowed, status: decision.status, reason: decision.reason },
        policy: rule?.policy ?? null,
        rule: rule?.rule ?? null,
        latencyMs: Math.round(record.latencyMs * 1000) / 1000,
        error: record.error,
      });
    },
    async flush() {
      await destination.flush?.();
    },
  };
}

/** pino's isoTime, with the date and time up to the second reused within that second. */
function isoTimestamp(): string {
  return `,"time":"${isoTime(Date.now())}"`;
}

function redactHeaders(
  headers: Readonly<Record<string, string>> | undefined,
  redacted: ReadonlySet<string>,
): Record<string, string> | undefined {
  if (!headers) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = redacted.has(name.toLowerCase()) ? '[REDACTED]' : value;
  return out;
}
