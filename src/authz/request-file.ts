/**
 * Reading AccessRequests from a JSON/YAML file (for `celgate check` and tests): one request,
 * a list, or `requests: [...]`. Every shape error names file:line:col and the field.
 */
import { readFile } from 'node:fs/promises';
import { parseDocuments, type FieldPath, type SourceDocument } from '../policy/index.js';
import type { AccessRequest } from '../engine/access/types.js';

export class RequestFileError extends Error {}

type Path = (string | number)[];

export async function readAccessRequests(file: string): Promise<AccessRequest[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RequestFileError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseAccessRequests(file, text);
}

export function parseAccessRequests(file: string, text: string): AccessRequest[] {
  const { documents, issues } = parseDocuments(file, text);
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new RequestFileError(`${first.file}:${first.line}:${first.column}: ${first.message}`);
  }
  if (documents.length !== 1) throw new RequestFileError(`${file}: expected exactly one document, found ${documents.length}`);
  const document = documents[0]!;
  const reader = new ShapeReader(document);
  const root = document.value;
  if (Array.isArray(root)) return root.map((item, i) => reader.request(item, [i]));
  if (isObject(root) && 'requests' in root) {
    const list = root['requests'];
    if (!Array.isArray(list)) reader.fail(['requests'], 'must be a list of requests');
    const extra = Object.keys(root).filter((k) => k !== 'requests');
    if (extra.length > 0) reader.fail([extra[0]!], `unknown field '${extra[0]}' next to 'requests'`);
    return (list as unknown[]).map((item, i) => reader.request(item, ['requests', i]));
  }
  return [reader.request(root, [])];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class ShapeReader {
  constructor(private readonly document: SourceDocument) {}

  fail(path: FieldPath, message: string): never {
    const { line, column } = this.document.positionOf(path);
    const field = path.length > 0 ? ` (${formatPath(path)})` : '';
    throw new RequestFileError(`${this.document.file}:${line}:${column}: ${message}${field}`);
  }

  request(value: unknown, at: Path): AccessRequest {
    const fields = this.object(value, at, ['request', 'source', 'destination', 'connection', 'context']);
    if (fields['request'] === undefined) this.fail(at, "a request needs a 'request' field with method and path");
    return {
      request: this.http(fields['request'], [...at, 'request']),
      source: fields['source'] === undefined ? undefined : this.peer(fields['source'], [...at, 'source'], false),
      destination: fields['destination'] === undefined ? undefined : this.peer(fields['destination'], [...at, 'destination'], true),
      connection: fields['connection'] === undefined ? undefined : this.connection(fields['connection'], [...at, 'connection']),
      context: fields['context'] === undefined ? undefined : this.stringMap(fields['context'], [...at, 'context'], false),
    };
  }

  private http(value: unknown, at: Path): AccessRequest['request'] {
    const f = this.object(value, at, ['id', 'time', 'method', 'path', 'host', 'scheme', 'protocol', 'headers', 'body']);
    const method = this.string(f['method'], [...at, 'method']);
    const path = this.string(f['path'], [...at, 'path']);
    if (method === undefined) this.fail(at, "'method' is required");
    if (path === undefined) this.fail(at, "'path' is required");
    return {
      method,
      path,
      id: this.string(f['id'], [...at, 'id']),
      time: this.string(f['time'], [...at, 'time']),
      host: this.string(f['host'], [...at, 'host']),
      scheme: this.string(f['scheme'], [...at, 'scheme']),
      protocol: this.string(f['protocol'], [...at, 'protocol']),
      headers: f['headers'] === undefined ? undefined : this.stringMap(f['headers'], [...at, 'headers'], true),
      body: this.string(f['body'], [...at, 'body']),
    };
  }

  private peer(value: unknown, at: Path, isDestination: boolean) {
    const allowed = ['address', 'port', 'principal', 'labels', ...(isDestination ? ['namespace', 'service'] : [])];
    const f = this.object(value, at, allowed);
    const port = f['port'];
    if (port !== undefined && !(typeof port === 'bigint' && port >= 0n && port <= 65535n)) this.fail([...at, 'port'], 'must be a port number 0-65535');
    return {
      address: this.string(f['address'], [...at, 'address']),
      port: port === undefined ? undefined : Number(port),
      principal: this.string(f['principal'], [...at, 'principal']),
      labels: f['labels'] === undefined ? undefined : this.stringMap(f['labels'], [...at, 'labels'], false),
      ...(isDestination
        ? { namespace: this.string(f['namespace'], [...at, 'namespace']), service: this.string(f['service'], [...at, 'service']) }
        : {}),
    };
  }

  private connection(value: unknown, at: Path) {
    const f = this.object(value, at, ['mtls', 'requested_server_name', 'uri_san_peer_certificate']);
    const mtls = f['mtls'];
    if (mtls !== undefined && typeof mtls !== 'boolean') this.fail([...at, 'mtls'], 'must be true or false');
    return {
      mtls: mtls as boolean | undefined,
      requested_server_name: this.string(f['requested_server_name'], [...at, 'requested_server_name']),
      uri_san_peer_certificate: this.string(f['uri_san_peer_certificate'], [...at, 'uri_san_peer_certificate']),
    };
  }

  private object(value: unknown, at: Path, allowed: readonly string[]): Record<string, unknown> {
    if (!isObject(value)) this.fail(at, 'must be a mapping');
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail([...at, key], `unknown field '${key}' (expected one of: ${allowed.join(', ')})`);
    }
    return value;
  }

  private string(value: unknown, at: Path): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') this.fail(at, 'must be a string');
    return value;
  }

  /** Header values may be written as numbers or booleans in YAML; they are sent as text. */
  private stringMap(value: unknown, at: Path, lowerCaseKeys: boolean): Record<string, string> {
    if (!isObject(value)) this.fail(at, 'must be a mapping of names to strings');
    const out: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string') out[lowerCaseKeys ? key.toLowerCase() : key] = item;
      else if (typeof item === 'bigint' || typeof item === 'number' || typeof item === 'boolean') out[lowerCaseKeys ? key.toLowerCase() : key] = String(item);
      else this.fail([...at, key], 'must be a string');
    }
    return out;
  }
}

function formatPath(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
