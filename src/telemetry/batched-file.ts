/**
 * Lines appended to a file or standard output in batches: one asynchronous write per batch,
 * never blocking the event loop. Hand-made rather than sonic-boom (pino.destination): that one
 * measured the byte length of its whole pending buffer on every line (~5% of a proxy's CPU),
 * and with a minimum batch size it held a quiet server's last lines until more arrived.
 */
import { close as closeFd, mkdir, open, write as writeFd } from 'node:fs';
import { dirname } from 'node:path';

/** The destination: anything with `write(line)`; a BatchedFile, or a test's collector. */
export interface LineSink {
  write(line: string): unknown;
}

/** Buffer bound: past it, lines are dropped (and counted) rather than growing memory without limit. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** A batch is written once this many characters are buffered... */
const BATCH_CHARS = 16 * 1024;
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
  #pending: string[] = [];
  #pendingChars = 0;
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

let sharedStdout: BatchedFile | undefined;

/**
 * The batcher for `target`: a new one for a file, the process's only one for `stdout` (two
 * batchers on one descriptor could interleave their writes in the middle of a line).
 */
export function lineFile(target: string): BatchedFile {
  if (target !== 'stdout') return new BatchedFile(target);
  return (sharedStdout ??= new BatchedFile('stdout'));
}
