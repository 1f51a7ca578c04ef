/** Reading data files for the CLI and writing output efficiently. */
import { readFile } from 'node:fs/promises';
import { parseDocuments } from '../policy/index.js';
import { UsageError } from './usage.js';

/** Reads one JSON or YAML document (integers become CEL ints); errors name the file and line. */
export async function readDataFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const { documents, issues } = parseDocuments(file, text);
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new UsageError(`${first.file}:${first.line}:${first.column}: ${first.message}`);
  }
  if (documents.length !== 1) throw new UsageError(`${file}: expected exactly one document, found ${documents.length}`);
  return documents[0]!.value;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Collects output lines and writes them in large chunks, honouring back-pressure. */
export class LineWriter {
  #buffer: string[] = [];
  #size = 0;
  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  async line(text: string): Promise<void> {
    this.#buffer.push(text, '\n');
    this.#size += text.length + 1;
    if (this.#size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#size = 0;
    if (!this.stream.write(chunk)) await new Promise((resolve) => this.stream.once('drain', resolve));
  }
}
