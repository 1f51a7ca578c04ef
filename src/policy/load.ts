/** Loading policy resources from files: recognise each document and check its identity. */
import { recognizeKind, type KnownKind } from './kinds.js';
import type { PolicyIssue } from './issues.js';
import { readDocuments, type SourceDocument } from './source.js';

export interface PolicyResource {
  readonly type: KnownKind;
  readonly name: string;
  readonly namespace?: string;
  readonly document: SourceDocument;
  /** The whole document as data (integers are bigints). */
  readonly value: Record<string, unknown>;
}

export interface LoadResult {
  readonly resources: PolicyResource[];
  /** Every problem found, in file order. Empty when everything loaded. */
  readonly issues: PolicyIssue[];
}

/** Loads every document under `paths`, collecting all problems rather than stopping at the first. */
export async function loadResources(paths: readonly string[]): Promise<LoadResult> {
  const { documents, issues } = await readDocuments(paths);
  const resources: PolicyResource[] = [];
  for (const document of documents) {
    const resource = toResource(document, issues);
    if (resource) resources.push(resource);
  }
  return { resources, issues };
}

/** Recognises one document; records an issue and returns undefined when it is not a known resource. */
export function toResource(document: SourceDocument, issues: PolicyIssue[]): PolicyResource | undefined {
  const issueAt = (path: (string | number)[], message: string, field?: string): void => {
    const { line, column } = document.positionOf(path);
    issues.push({ file: document.file, line, column, message, ...(field ? { field } : {}) });
  };
  const value = document.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issueAt([], 'a policy document must be a mapping with apiVersion, kind, metadata and spec');
    return undefined;
  }
  const data = value as Record<string, unknown>;
  const recognition = recognizeKind(data.apiVersion, data.kind);
  if ('error' in recognition) {
    issueAt(data[recognition.field] === undefined ? [] : [recognition.field], recognition.error);
    return undefined;
  }
  const metadata = data.metadata as Record<string, unknown> | undefined;
  const name = metadata?.name;
  if (typeof name !== 'string' || name === '') {
    issueAt(['metadata'], 'metadata.name is required', 'metadata.name');
    return undefined;
  }
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : undefined;
  return { type: recognition.known, name, ...(namespace ? { namespace } : {}), document, value: data };
}
