/**
 * Reading YAML (and JSON) documents with their positions: every document remembers its
 * file and line, and any field inside it can be traced back to a line and column.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { LineCounter, parseAllDocuments, isScalar, type Document, type Node } from 'yaml';
import type { PolicyIssue } from './issues.js';

export type FieldPath = readonly (string | number)[];

export interface Position {
  readonly line: number;
  readonly column: number;
}

export class SourceDocument {
  constructor(
    readonly file: string,
    /** Index of the document within its file, from 0. */
    readonly index: number,
    /** The document as plain data; integers are bigints (CEL ints). */
    readonly value: unknown,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  /** Where the document's content starts. */
  get position(): Position {
    const start = this.doc.contents?.range?.[0] ?? this.doc.range?.[0] ?? 0;
    return this.#at(start);
  }

  /** Where a field's value sits; falls back to the closest enclosing field that exists. */
  positionOf(path: FieldPath): Position {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.doc.getIn(path.slice(0, depth), true) as Node | undefined;
      if (node?.range) return this.#at(node.range[0]);
    }
    return this.position;
  }

  /**
   * Where the text of a scalar starts, for mapping positions inside an expression back
   * to the file: for a block scalar (`|`, `>`) that is the first content line (and its
   * indentation applies to every later line), for a quoted scalar the character after
   * the quote.
   */
  contentPositionOf(path: FieldPath): Position & { readonly indent: number } {
    const start = this.#contentStart(path);
    return { ...start, indent: start.block ? start.column - 1 : 0 };
  }

  #contentStart(path: FieldPath): Position & { block?: boolean } {
    const node = this.doc.getIn(path, true) as Node | undefined;
    if (!node?.range || !isScalar(node)) return this.positionOf(path);
    const start = node.range[0];
    switch (node.type) {
      case 'BLOCK_LITERAL':
      case 'BLOCK_FOLDED': {
        let i = this.text.indexOf('\n', start);
        if (i < 0) return this.#at(start);
        i++;
        // Skip blank lines, then the indentation of the first content line.
        while (i < this.text.length) {
          let j = i;
          while (this.text[j] === ' ') j++;
          if (this.text[j] !== '\n') return { ...this.#at(j), block: true };
          i = j + 1;
        }
        return this.#at(start);
      }
      case 'QUOTE_DOUBLE':
      case 'QUOTE_SINGLE':
        return this.#at(start + 1);
      default:
        return this.#at(start);
    }
  }

  #at(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}

export interface ReadResult {
  readonly documents: SourceDocument[];
  readonly issues: PolicyIssue[];
}

const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Parses every document of one file's text; syntax errors become issues with positions. */
export function parseDocuments(file: string, text: string): ReadResult {
  const lines = new LineCounter();
  const documents: SourceDocument[] = [];
  const issues: PolicyIssue[] = [];
  const parsed = parseAllDocuments(text, { lineCounter: lines, intAsBigInt: true, prettyErrors: false });
  const all = Array.isArray(parsed) ? parsed : [];
  all.forEach((doc, index) => {
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      issues.push({ file, line, column: col, message: `YAML syntax error: ${firstLine(error.message)}` });
    }
    // Empty documents (a trailing `---`, a comment alone) and `null` ones are skipped, as kubectl's
    // stream reader skips them (cli-runtime StreamVisitor: empty or "null" raw documents).
    if (doc.errors.length > 0 || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;
    documents.push(new SourceDocument(file, index, doc.toJS({ maxAliasCount: 100 }), doc, lines, text));
  });
  return { documents, issues };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}

/** Reads files and directories (recursively; YAML and JSON files, skipping dot-entries and node_modules). */
export async function readDocuments(paths: readonly string[]): Promise<ReadResult> {
  const documents: SourceDocument[] = [];
  const issues: PolicyIssue[] = [];
  for (const file of await expandPaths(paths, issues)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      issues.push({ file, line: 1, column: 1, message: `cannot read file: ${(error as Error).message}` });
      continue;
    }
    const result = parseDocuments(file, text);
    documents.push(...result.documents);
    issues.push(...result.issues);
  }
  return { documents, issues };
}

async function expandPaths(paths: readonly string[], issues: PolicyIssue[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      issues.push({ file: path, line: 1, column: 1, message: 'no such file or directory' });
      continue;
    }
    if (info.isDirectory()) files.push(...(await walk(path)));
    else files.push(path);
  }
  return files;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (YAML_EXTENSIONS.has(extname(entry.name))) files.push(path);
  }
  return files;
}
