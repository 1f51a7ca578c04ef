/**
 * The proxy's access log: one JSON line per request, buffered and appended in batches with
 * asynchronous writes, so a log line never blocks the event loop (a hand-made batcher: the
 * general-purpose sonic-boom measured the byte length of its whole pending buffer on every
 * line, ~5% of a proxy's CPU).
 *
 * Only the fields below are logged: no header values and no query string (either can carry
 * credentials), so there is nothing secret to redact.
 */
import { close as closeFd, open, write as writeFd } from 'node:fs';

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
  const file = new BatchedFile(target);
  return {
    write: (entry) => file.write(formatAccessLogLine(entry)),
    flush: () => file.flush(),
    close: () => file.close(),
    get dropped() {
      return file.dropped;
    },
  };
}

/** A batch is written once this many characters are buffered... */
const BATCH_CHARS = 16 * 1024;
/** ...or this long after its first line, so a quiet proxy's lines still show up. */
const FLUSH_AFTER_MS = 200;

/**
 * Lines appended to a file (or standard output) in batches: one asynchronous write per batch,
 * never blocking the event loop, never more than one write in flight. A failing destination
 * must not crash the proxy: the error is kept, and lines from then on are counted as dropped.
 */
class BatchedFile {
  dropped = 0;
  #fd = -1;
  readonly #ownsFd: boolean;
  readonly #opened: Promise<void>;
  #error: Error | undefined;
  #pending: string[] = [];
  #pendingChars = 0;
  #writing = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];

  constructor(target: string) {
    this.#ownsFd = target !== 'stdout';
    if (!this.#ownsFd) {
      this.#fd = 1;
      this.#opened = Promise.resolve();
      return;
    }
    this.#opened = new Promise((resolve) => {
      open(target, 'a', (error, fd) => {
        if (error) this.#fail(error);
        else this.#fd = fd;
        resolve();
        this.#writeNext();
      });
    });
  }

  write(line: string): void {
    if (this.#closed || this.#error || this.#pendingChars + line.length > MAX_BUFFERED_BYTES) {
      this.dropped++;
      return;
    }
    this.#pending.push(line);
    this.#pendingChars += line.length;
    if (this.#pendingChars >= BATCH_CHARS) this.#writeNext();
    else this.#timer ??= setTimeout(() => this.#writeNext(), FLUSH_AFTER_MS).unref();
  }

  /** Resolves when every line written so far has reached the destination (or was dropped). */
  async flush(): Promise<void> {
    await this.#opened;
    if (!this.#writing && this.#pending.length === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      this.#writeNext();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#ownsFd && this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      await new Promise<void>((resolve) => closeFd(fd, () => resolve()));
    }
  }

  #writeNext(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#writing || this.#fd < 0) return;
    if (this.#pending.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    const buffer = Buffer.from(this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join(''));
    this.#pending = [];
    this.#pendingChars = 0;
    this.#writing = true;
    this.#writeOut(buffer, 0);
  }

  #writeOut(buffer: Buffer, offset: number): void {
    writeFd(this.#fd, buffer, offset, buffer.length - offset, null, (error, written) => {
      if (error) {
        // A non-blocking pipe that is full: try again shortly.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.#writeOut(buffer, offset), 10).unref();
          return;
        }
        this.dropped += countLines(buffer, offset);
        this.#writing = false;
        this.#fail(error);
        return;
      }
      if (offset + written < buffer.length) {
        this.#writeOut(buffer, offset + written);
        return;
      }
      this.#writing = false;
      if (this.#pendingChars >= BATCH_CHARS || this.#idle.length > 0) this.#writeNext();
      else if (this.#pending.length > 0) this.#timer ??= setTimeout(() => this.#writeNext(), FLUSH_AFTER_MS).unref();
    });
  }

  #fail(error: Error): void {
    this.#error = error;
    this.dropped += this.#pending.length;
    this.#pending = [];
    this.#pendingChars = 0;
    this.#fd = -1;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

function countLines(buffer: Buffer, offset: number): number {
  let lines = 0;
  for (let i = offset; i < buffer.length; i++) if (buffer[i] === 10) lines++;
  return lines;
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

/** Printable ASCII without `"` and `\\`: JSON writes such a string as it is, between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7f]*$/;

/** JSON.stringify(value) for a string, skipping the escaper for the common plain string (measured ~35% faster). */
function str(value: string): string {
  return PLAIN.test(value) ? '"' + value + '"' : JSON.stringify(value);
}

function optStr(value: string | undefined | null): string {
  return value === undefined || value === null ? 'null' : str(value);
}

/** JSON's form of a number: non-finite numbers are null (as JSON.stringify writes them). */
function num(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** Date#toISOString, with the part up to the second reused while the second does not change. */
let cachedSecond = Number.NaN;
let cachedPrefix = '';
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    if (iso.length !== 24) return new Date(ms).toISOString(); // years outside 0000-9999
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  const millis = ms - second * 1000;
  if (!Number.isInteger(millis)) return new Date(ms).toISOString();
  return cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
}
