/**
 * Lines appended to a file or standard output in batches: one asynchronous write per batch,
 * never blocking the event loop. Hand-made rather than sonic-boom (pino.destination): that one
 * measured the byte length of its whole pending buffer on every line (~5% of a proxy's CPU),
 * and with a minimum batch size it held a quiet server's last lines until more arrived.
 */
import { close as closeFd, mkdir, open, writev as writevFd } from 'node:fs';
import { dirname } from 'node:path';

/** The destination: anything with `write(line)`; a BatchedFile, or a test's collector. */
export interface LineSink {
  write(line: string): unknown;
}

/** Buffer bound: past it, lines are dropped (and counted) rather than growing memory without limit. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** A batch is written once this many bytes are buffered... */
const BATCH_BYTES = 16 * 1024;
/**
 * Lines are encoded as they arrive into chunks of this size (a longer line gets one of its own):
 * a batch is then written as it lies, without joining its lines into one string and encoding
 * that string again (measured ~0.7µs per access-log line saved).
 */
const CHUNK_BYTES = 2 * BATCH_BYTES;
/** ...or this long after its first line, so a quiet server's lines still show up. */
const FLUSH_AFTER_MS = 200;

/**
 * Lines appended to a file (or standard output) in batches: one asynchronous write per batch,
 * never blocking the event loop, never more than one write in flight. A failing destination
 * must not crash the server: the error is kept, and lines from then on are counted as dropped.
 */
export class BatchedFile implements LineSink {
  dropped = 0;
  #fd = -1;
  readonly #ownsFd: boolean;
  readonly #opened: Promise<void>;
  #error: Error | undefined;
  /** Filled chunks waiting for the next write. */
  #sealed: Buffer[] = [];
  /** The chunk lines are being encoded into, and how much of it is used. */
  #chunk: Buffer | undefined;
  #used = 0;
  #pendingBytes = 0;
  #writing = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];

  /** `target`: a file path (appended to, created when missing) or `stdout`. */
  constructor(target: string) {
    this.#ownsFd = target !== 'stdout';
    if (!this.#ownsFd) {
      this.#fd = 1;
      this.#opened = Promise.resolve();
      return;
    }
    this.#opened = new Promise((resolve) => {
      mkdir(dirname(target), { recursive: true }, () => {
        open(target, 'a', (error, fd) => {
          if (error) this.#fail(error);
          else this.#fd = fd;
          resolve();
          this.#writeNext();
        });
      });
    });
  }

  write(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: room for that is room for the line.
    const room = line.length * 3;
    if (this.#closed || this.#error || this.#pendingBytes + room > MAX_BUFFERED_BYTES) {
      this.dropped++;
      return;
    }
    let chunk = this.#chunk;
    if (chunk === undefined || this.#used + room > chunk.length) {
      this.#seal();
      chunk = this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, room));
    }
    const written = chunk.write(line, this.#used);
    this.#used += written;
    this.#pendingBytes += written;
    if (this.#pendingBytes >= BATCH_BYTES) this.#writeNext();
    else this.#timer ??= setTimeout(() => this.#writeNext(), FLUSH_AFTER_MS).unref();
  }

  /** Moves the current chunk's lines to the sealed list. */
  #seal(): void {
    if (this.#chunk !== undefined && this.#used > 0) this.#sealed.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = undefined;
    this.#used = 0;
  }

  /** Resolves when every line written so far has reached the destination (or was dropped). */
  async flush(): Promise<void> {
    await this.#opened;
    if (!this.#writing && this.#pendingBytes === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      this.#writeNext();
    });
  }

  /** Flushes, then closes a file; standard output is shared, so it is only flushed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    if (!this.#ownsFd) return;
    this.#closed = true;
    if (this.#fd >= 0) {
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
    this.#seal();
    if (this.#sealed.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    const buffers = this.#sealed;
    this.#sealed = [];
    this.#pendingBytes = 0;
    this.#writing = true;
    this.#writeOut(buffers);
  }

  /** Writes `buffers` in order, all of them, whatever the number of calls it takes. */
  #writeOut(buffers: Buffer[]): void {
    writevFd(this.#fd, buffers, (error, written) => {
      if (error) {
        // A non-blocking pipe that is full: try again shortly.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.#writeOut(buffers), 10).unref();
          return;
        }
        for (const buffer of buffers) this.dropped += countLines(buffer);
        this.#writing = false;
        this.#fail(error);
        return;
      }
      const rest = unwritten(buffers, written);
      if (rest.length > 0) {
        this.#writeOut(rest);
        return;
      }
      this.#writing = false;
      if (this.#pendingBytes >= BATCH_BYTES || this.#idle.length > 0) this.#writeNext();
      else if (this.#pendingBytes > 0) this.#timer ??= setTimeout(() => this.#writeNext(), FLUSH_AFTER_MS).unref();
    });
  }

  #fail(error: Error): void {
    this.#error = error;
    this.#seal();
    for (const buffer of this.#sealed) this.dropped += countLines(buffer);
    this.#sealed = [];
    this.#pendingBytes = 0;
    this.#fd = -1;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

function countLines(buffer: Buffer): number {
  let lines = 0;
  for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) lines++;
  return lines;
}

/** What is left of `buffers` after the first `written` bytes went out. */
function unwritten(buffers: Buffer[], written: number): Buffer[] {
  let skipped = 0;
  for (let i = 0; i < buffers.length; i++) {
    const length = buffers[i]!.length;
    if (skipped + length > written) return [buffers[i]!.subarray(written - skipped), ...buffers.slice(i + 1)];
    skipped += length;
  }
  return [];
}

let sharedStdout: BatchedFile | undefined;

/**
 * The batcher for `target`: a new one for a file, the process's only one for `stdout` (two
 * batchers on one descriptor could interleave their writes in the middle of a line).
 */
export function lineFile(target: string): BatchedFile {
  if (target !== 'stdout') return new BatchedFile(target);
  return (sharedStdout ??= new BatchedFile('stdout'));
}
