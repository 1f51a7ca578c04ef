/**
 * The proxy's access log: one JSON line per request, written through an asynchronous,
 * buffered stream (sonic-boom via pino.destination) so a log line never blocks the event loop.
 *
 * Only the fields below are logged: no header values and no query string (either can carry
 * credentials), so there is nothing secret to redact.
 */
import { pino } from 'pino';

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

/** The destination: anything with `write(line)`; used by tests. */
export interface LineSink {
  write(line: string): unknown;
}

/** Buffer bound: past it, lines are dropped (and counted) rather than growing memory without limit. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

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
  // Batch writes of 4 KiB, flushed at least every second so a quiet proxy's lines still show up.
  const stream = pino.destination({
    dest: target === 'stdout' ? 1 : target,
    sync: false,
    append: true,
    mkdir: false,
    minLength: 4096,
    maxLength: MAX_BUFFERED_BYTES,
    periodicFlush: 1000,
  });
  let dropped = 0;
  let closed = false;
  let lastError: Error | undefined;
  stream.on('drop', (data: string) => {
    for (let i = 0; i < data.length; i++) if (data.charCodeAt(i) === 10) dropped++;
  });
  // A failing disk must not crash the proxy; the error is kept and writing stops.
  stream.on('error', (error: Error) => {
    lastError = error;
  });
  const ready = new Promise<void>((resolve) => {
    if ((stream as unknown as { fd: number }).fd >= 0) resolve();
    else stream.once('ready', () => resolve());
    stream.once('error', () => resolve());
  });
  return {
    write(entry) {
      if (closed || lastError) {
        dropped++;
        return;
      }
      stream.write(formatAccessLogLine(entry));
    },
    async flush() {
      await ready;
      if (closed || lastError) return;
      await new Promise<void>((resolve) => stream.flush(() => resolve()));
    },
    async close() {
      if (closed) return;
      closed = true;
      await ready;
      if (lastError) return;
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.once('error', () => resolve());
        stream.end();
      });
    },
    get dropped() {
      return dropped;
    },
  };
}

/** One JSON line (with the newline). Absent values are null so every line has the same keys. */
export function formatAccessLogLine(e: AccessLogEntry): string {
  const query = e.path.indexOf('?');
  return (
    JSON.stringify({
      time: new Date(e.time ?? Date.now()).toISOString(),
      listener: e.listener,
      method: e.method,
      path: query >= 0 ? e.path.slice(0, query) : e.path,
      authority: e.authority,
      status: e.status,
      route: e.route ?? null,
      upstream: e.upstream ?? null,
      cluster: e.cluster ?? null,
      attempts: e.attempts,
      duration_ms: Math.round(e.durationMs * 1000) / 1000,
      bytes_received: e.bytesReceived,
      bytes_sent: e.bytesSent,
      decision_id: e.decisionId ?? null,
      decision: e.decision ? (e.decision.allowed ? 'allowed' : 'denied') : null,
      policy: e.decision?.policy ?? null,
      trace_id: e.traceId,
      request_id: e.requestId,
      peer: e.peer ?? null,
    }) + '\n'
  );
}
