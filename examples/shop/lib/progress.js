// A progress bar on stderr: redrawn in place on a terminal, plain lines every 10% otherwise
// (CI logs, pipes). Events (an endpoint killed, restarted, ejected) get a line of their own.
export class Progress {
  constructor(totalMs, stream = process.stderr) {
    this.totalMs = totalMs;
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.lastDecile = -1;
    this.lastLine = '';
  }

  update(elapsedMs, stats) {
    const fraction = Math.min(1, elapsedMs / this.totalMs);
    const width = 24;
    const filled = Math.round(fraction * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(elapsedMs / 1000).toFixed(0).padStart(3)}s/${(this.totalMs / 1000).toFixed(0)}s  ${stats}`;
    if (this.tty) {
      this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 120) - 1)}\x1b[K`);
      this.lastLine = line;
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${line}\n`);
    }
  }

  event(text) {
    if (this.tty) this.stream.write(`\r\x1b[K${text}\n${this.lastLine}`);
    else this.stream.write(`${text}\n`);
  }

  done() {
    if (this.tty) this.stream.write('\n');
  }
}
