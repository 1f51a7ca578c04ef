/**
 * The proxy's access log: one JSON line per request, buffered and appended in batches with
 * asynchronous writes (batched-file.ts), so a log line never blocks the event loop.
 *
 * Only the fields below are logged: no header values and no query string (either can carry
 * credentials), so there is nothing secret to redact.
 */
import { lineFile, type LineSink } from './batched-file.js';
import { isoTime, num, optStr, str } from './json-text.js';

export interface AccessLogEntry {
  /** Epoch milliseconds when the request arrived; defaults to now. */
  readonly time?: number;
  readonly listener: string;
  readonly method: string;
  /** The request path; anything from `?` on is dropped before logging. */
  readonly path: string;
  readonly authority: string;
  /** Response status sent downstream; 0 when the connection ended before a response. */
  readonly status: number;
  /** CompiledRoute.name, when a route matched. */
  readonly route?: string;
  /** Endpoint id (`address:port`) of the last attempt. */
  readonly upstream?: string;
  /** Cluster name (`outbound|PORT|SUBSET|HOST`). */
  readonly cluster?: string;
  /** Upstream attempts, retries included (0 when never forwarded). */
  readonly attempts: number;
  readonly durationMs: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly decisionId?: string;
  /** Absent when authorization did not run (mode none, or an outbound request). */
  readonly decision?: { readonly allowed: boolean; readonly policy?: string };
  readonly traceId: string;
  readonly requestId: string;
  /** SPIFFE ID of the downstream peer's certificate, when mTLS. */
  readonly peer?: string;
}

export interface AccessLog {
  write(entry: AccessLogEntry): void;
  /** Resolves when every buffered line has reached the destination. */
  flush(): Promise<void>;
  /** Flushes and closes (a file is closed; standard output stays open). */
  close(): Promise<void>;
  /** Lines dropped because the destination could not keep up (buffer bound reached). */
  readonly dropped: number;
}

/** `target` is `stdout`, `off`, a file path (appended to), or a sink. */
export function createAccessLog(target: string | LineSink): AccessLog {
  if (target === 'off') return { write() {}, async flush() {}, async close() {}, dropped: 0 };
  if (typeof target !== 'string') {
    return {
      write: (entry) => void target.write(formatAccessLogLine(entry)),
      async flush() {},
      async close() {},
      dropped: 0,
    };
  }
  const file = lineFile(target);
  return {
    write: (entry) => file.write(formatAccessLogLine(entry)),
    flush: () => file.flush(),
    close: () => file.close(),
    get dropped() {
      return file.dropped;
    },
  };
}

/**
 * One JSON line (with the newline). Absent values are null so every line has the same keys.
 * Built by hand, in the order of the keys below: JSON.stringify runs only on the strings (it
 * escapes them exactly as it would inside an object), numbers print as JSON prints them.
 */
export function formatAccessLogLine(e: AccessLogEntry): string {
  const query = e.path.indexOf('?');
  const decision = e.decision;
  return (
    '{"time":"' +
    isoTime(e.time ?? Date.now()) +
    '","listener":' +
    str(e.listener) +
    ',"method":' +
    str(e.method) +
    ',"path":' +
    str(query >= 0 ? e.path.slice(0, query) : e.path) +
    ',"authority":' +
    str(e.authority) +
    ',"status":' +
    num(e.status) +
    ',"route":' +
    optStr(e.route) +
    ',"upstream":' +
    optStr(e.upstream) +
    ',"cluster":' +
    optStr(e.cluster) +
    ',"attempts":' +
    num(e.attempts) +
    ',"duration_ms":' +
    num(Math.round(e.durationMs * 1000) / 1000) +
    ',"bytes_received":' +
    num(e.bytesReceived) +
    ',"bytes_sent":' +
    num(e.bytesSent) +
    ',"decision_id":' +
    optStr(e.decisionId) +
    ',"decision":' +
    (decision ? (decision.allowed ? '"allowed"' : '"denied"') : 'null') +
    ',"policy":' +
    optStr(decision?.policy) +
    ',"trace_id":' +
    str(e.traceId) +
    ',"request_id":' +
    str(e.requestId) +
    ',"peer":' +
    optStr(e.peer) +
    '}\n'
  );
}
