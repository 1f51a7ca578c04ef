/**
 * The PolicyTest format (celgate.dev/v1alpha1): reads one document into a TestSuite,
 * resolving fixtures and file references. Unknown fields, wrong types and references to
 * missing files are issues at file:line; a suite with any issue does not run.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { parseDocuments, type PolicyIssue, type SourceDocument } from '../policy/index.js';
import type { AccessRequest } from '../engine/access/types.js';
import type { AdmissionRequest, Operation, UserInfo } from '../engine/admission/types.js';
import { requestForObject } from '../engine/admission/request.js';
import { applyKubernetesDefaults } from '../engine/admission/defaults.js';
import { FieldReader, isMapping, toPlainJson, type Path } from './fields.js';
import { expandPath } from './paths.js';
import type { CaseInput, Expectation, PolicyExpectation, TestCase, TestSuite } from './types.js';

const SPEC_FIELDS = ['policies', 'params', 'namespaces', 'fixtures', 'defaults', 'cases'] as const;
const DEFAULTS_FIELDS = ['operation', 'namespace', 'userInfo', 'dryRun', 'kubernetesDefaults'] as const;
const CASE_FIELDS = ['name', 'admission', 'admissionReview', 'request', 'expect', 'skip'] as const;
const ADMISSION_FIELDS = ['operation', 'object', 'oldObject', 'namespace', 'userInfo', 'dryRun', 'kubernetesDefaults'] as const;
const FIXTURE_REF_FIELDS = ['fixture', 'merge', 'jsonPatch'] as const;
const FILE_REF_FIELDS = ['file', 'document', 'kind', 'name', 'namespace', 'merge', 'jsonPatch'] as const;
const ACCESS_FIELDS = ['source', 'destination', 'request', 'connection', 'context'] as const;
const EXPECT_COMMON = ['allowed', 'status', 'message', 'messageContains', 'messageMatches', 'policies'] as const;
const EXPECT_ADMISSION = [...EXPECT_COMMON, 'warnings', 'auditAnnotations', 'patchedObject'] as const;
const EXPECT_ACCESS = [...EXPECT_COMMON, 'headers', 'headersToRemove', 'route'] as const;
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** Parsed data files, shared by every suite of one run (fixtures are often shared). */
export type FileCache = Map<string, { documents: SourceDocument[] } | { error: string }>;

export function readDataDocuments(file: string, cache: FileCache): { documents: SourceDocument[] } | { error: string } {
  let entry = cache.get(file);
  if (!entry) {
    try {
      const { documents, issues } = parseDocuments(file, readFileSync(file, 'utf8'));
      const first = issues[0];
      entry = first ? { error: `${first.file}:${first.line}:${first.column}: ${first.message}` } : { documents };
    } catch (error) {
      entry = { error: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
    }
    cache.set(file, entry);
  }
  return entry;
}

interface Defaults {
  operation?: Operation;
  namespace?: string;
  userInfo?: UserInfo;
  dryRun?: boolean;
  /** Apply kube-apiserver's built-in defaults to the case's objects (default true). */
  kubernetesDefaults?: boolean;
}

/** Reads one PolicyTest document; returns undefined (with issues recorded) when it has problems. */
export function readSuite(document: SourceDocument, issues: PolicyIssue[], cache: FileCache): TestSuite | undefined {
  const before = issues.length;
  const reader = new SuiteReader(new FieldReader(document, issues), cache);
  const suite = reader.read();
  return issues.length === before ? suite : undefined;
}

class SuiteReader {
  readonly base: string;
  readonly inputs = new Set<string>();
  readonly #fixtureValues = new Map<string, unknown>();
  #fixtureSources: Record<string, unknown> = {};
  readonly #resolving = new Set<string>();
  #defaults: Defaults = {};

  constructor(
    readonly r: FieldReader,
    readonly cache: FileCache,
  ) {
    this.base = dirname(resolve(r.file));
    this.inputs.add(resolve(r.file));
  }

  read(): TestSuite | undefined {
    const doc = this.r.mapping(this.r.document.value, [], ['apiVersion', 'kind', 'metadata', 'spec']);
    if (!doc) return undefined;
    const name = isMapping(doc.metadata) && typeof doc.metadata.name === 'string' ? doc.metadata.name : undefined;
    if (!name) this.r.issue(['metadata'], 'metadata.name is required');
    const spec = this.r.mapping(doc.spec, ['spec'], SPEC_FIELDS);
    if (!spec) return undefined;

    const policyFiles = this.#policies(spec.policies);
    const clusterObjects = [...this.#objectList(spec.params, ['spec', 'params']), ...this.#objectList(spec.namespaces, ['spec', 'namespaces'])];
    if (spec.fixtures !== undefined) {
      if (!isMapping(spec.fixtures)) this.r.issue(['spec', 'fixtures'], 'spec.fixtures must be a mapping of names to objects');
      else {
        this.#fixtureSources = spec.fixtures;
        // Resolve every fixture now, so a broken one is reported even when no case uses it.
        for (const name of Object.keys(spec.fixtures)) this.#fixture(name, ['spec', 'fixtures', name]);
      }
    }
    if (spec.defaults !== undefined) this.#defaults = this.#readDefaults(spec.defaults);
    const cases = this.#cases(spec.cases);
    return {
      name: name ?? '',
      file: this.r.file,
      line: this.r.document.position.line,
      policyFiles,
      clusterObjects,
      cases,
      inputs: [...this.inputs, ...policyFiles],
    };
  }

  #policies(value: unknown): string[] {
    const path = ['spec', 'policies'];
    if (value === undefined) {
      this.r.issue(['spec'], 'spec.policies is required: the policy files, directories or globs this suite tests');
      return [];
    }
    const list = typeof value === 'string' ? [value] : this.r.stringList(value, path);
    if (!list) return [];
    const files = new Set<string>();
    list.forEach((pattern, i) => {
      const expansion = expandPath(this.base, pattern);
      if ('error' in expansion) this.r.issue(typeof value === 'string' ? path : [...path, i], `policy ${expansion.error}`);
      else for (const file of expansion.files) files.add(file);
    });
    if (list.length === 0) this.r.issue(path, 'spec.policies is empty: name at least one policy file');
    return [...files].sort();
  }

  /** params / namespaces: files (every document in them) or inline objects. */
  #objectList(value: unknown, path: Path): unknown[] {
    if (value === undefined) return [];
    const list = this.r.list(value, path);
    if (!list) return [];
    const out: unknown[] = [];
    list.forEach((item, i) => {
      if (typeof item === 'string') {
        const file = resolve(this.base, item);
        const read = readDataDocuments(file, this.cache);
        this.inputs.add(file);
        if ('error' in read) this.r.issue([...path, i], read.error);
        else for (const d of read.documents) out.push(toPlainJson(d.value));
      } else if (isMapping(item)) out.push(this.#object(item, [...path, i]));
      else this.r.issue([...path, i], 'expected a file name or an inline object');
    });
    return out;
  }

  #readDefaults(value: unknown): Defaults {
    const path = ['spec', 'defaults'];
    const d = this.r.mapping(value, path, DEFAULTS_FIELDS);
    if (!d) return {};
    const out: Defaults = {};
    if (d.operation !== undefined) {
      const op = this.#operation(d.operation, [...path, 'operation']);
      if (op) out.operation = op;
    }
    if (d.namespace !== undefined) {
      const ns = this.r.string(d.namespace, [...path, 'namespace']);
      if (ns !== undefined) out.namespace = ns;
    }
    if (d.userInfo !== undefined) out.userInfo = this.#userInfo(d.userInfo, [...path, 'userInfo']);
    if (d.dryRun !== undefined) out.dryRun = this.r.boolean(d.dryRun, [...path, 'dryRun']) ?? false;
    if (d.kubernetesDefaults !== undefined) out.kubernetesDefaults = this.r.boolean(d.kubernetesDefaults, [...path, 'kubernetesDefaults']) ?? true;
    return out;
  }

  #operation(value: unknown, path: Path): Operation | undefined {
    if (typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value)) return value as Operation;
    this.r.issue(path, `operation must be one of ${OPERATIONS.join(', ')}`);
    return undefined;
  }

  #userInfo(value: unknown, path: Path): UserInfo {
    const u = this.r.mapping(value, path, ['username', 'uid', 'groups', 'extra']);
    return u ? (toPlainJson(u) as UserInfo) : {};
  }

  /** An object: inline, `{fixture: name}` or `{file: ..., document | kind/name}`, optionally patched. */
  #object(value: unknown, path: Path): unknown {
    if (!isMapping(value)) {
      this.r.issue(path, 'expected an object, {fixture: NAME} or {file: FILE}');
      return undefined;
    }
    let base: unknown;
    if ('fixture' in value) {
      const ref = this.r.mapping(value, path, FIXTURE_REF_FIELDS)!;
      const name = this.r.string(ref.fixture, [...path, 'fixture']);
      if (name === undefined) return undefined;
      base = this.#fixture(name, [...path, 'fixture']);
    } else if ('file' in value && !('apiVersion' in value)) {
      base = this.#fileObject(this.r.mapping(value, path, FILE_REF_FIELDS)!, path);
    } else {
      return toPlainJson(value);
    }
    if (base === undefined) return undefined;
    if (value.merge === undefined && value.jsonPatch === undefined) return base;
    let result: unknown = structuredClone(base as object);
    if (value.merge !== undefined) {
      if (!isMapping(value.merge)) this.r.issue([...path, 'merge'], 'merge must be a mapping (a JSON merge patch, RFC 7386)');
      else result = mergePatch(result, toPlainJson(value.merge));
    }
    if (value.jsonPatch !== undefined) {
      const ops = this.r.list(value.jsonPatch, [...path, 'jsonPatch']);
      if (ops) {
        try {
          result = fastJsonPatch.applyPatch(result, toPlainJson(ops) as fastJsonPatch.Operation[], true, true).newDocument;
        } catch (error) {
          this.r.issue([...path, 'jsonPatch'], `jsonPatch does not apply: ${(error as Error).message.split('\n')[0]}`);
          return undefined;
        }
      }
    }
    return result;
  }

  #fixture(name: string, path: Path): unknown {
    if (this.#fixtureValues.has(name)) return this.#fixtureValues.get(name);
    if (!(name in this.#fixtureSources)) {
      const known = Object.keys(this.#fixtureSources);
      this.r.issue(path, `unknown fixture '${name}'${known.length ? ` (fixtures: ${known.join(', ')})` : ': spec.fixtures defines none'}`);
      return undefined;
    }
    if (this.#resolving.has(name)) {
      this.r.issue(path, `fixture '${name}' refers to itself`);
      return undefined;
    }
    this.#resolving.add(name);
    const value = this.#object(this.#fixtureSources[name], ['spec', 'fixtures', name]);
    this.#resolving.delete(name);
    this.#fixtureValues.set(name, value);
    return value;
  }

  #fileObject(ref: Record<string, unknown>, path: Path): unknown {
    const name = this.r.string(ref.file, [...path, 'file']);
    if (name === undefined) return undefined;
    const file = resolve(this.base, name);
    this.inputs.add(file);
    const read = readDataDocuments(file, this.cache);
    if ('error' in read) {
      this.r.issue([...path, 'file'], read.error);
      return undefined;
    }
    let documents = read.documents;
    if (ref.document !== undefined) {
      const index = this.r.integer(ref.document, [...path, 'document']);
      if (index === undefined) return undefined;
      const doc = documents[index];
      if (!doc) {
        this.r.issue([...path, 'document'], `${name} has ${documents.length} document(s); document is counted from 0`);
        return undefined;
      }
      documents = [doc];
    }
    for (const key of ['kind', 'name', 'namespace'] as const) {
      if (ref[key] === undefined) continue;
      const wanted = this.r.string(ref[key], [...path, key]);
      documents = documents.filter((d) => {
        const v = d.value as Record<string, unknown>;
        const meta = isMapping(v?.metadata) ? v.metadata : {};
        return (key === 'kind' ? v?.kind : meta[key]) === wanted;
      });
    }
    if (documents.length !== 1) {
      const why = documents.length === 0 ? 'no document matches' : `${documents.length} documents match; select one with document: N, kind, name`;
      this.r.issue(path, `${name}: ${why}`);
      return undefined;
    }
    return toPlainJson(documents[0]!.value);
  }

  #cases(value: unknown): TestCase[] {
    const path = ['spec', 'cases'];
    if (value === undefined) {
      this.r.issue(['spec'], 'spec.cases is required: a suite without cases tests nothing');
      return [];
    }
    const list = this.r.list(value, path);
    if (!list) return [];
    if (list.length === 0) this.r.issue(path, 'spec.cases is empty: a suite without cases tests nothing');
    const names = new Set<string>();
    const cases: TestCase[] = [];
    list.forEach((item, i) => {
      const c = this.#case(item, [...path, i]);
      if (!c) return;
      if (names.has(c.name)) this.r.issue([...path, i, 'name'], `duplicate case name '${c.name}'`);
      names.add(c.name);
      cases.push(c);
    });
    return cases;
  }

  #case(value: unknown, path: Path): TestCase | undefined {
    const c = this.r.mapping(value, path, CASE_FIELDS);
    if (!c) return undefined;
    const name = c.name === undefined ? undefined : this.r.string(c.name, [...path, 'name']);
    if (c.name === undefined) this.r.issue(path, 'every case needs a name');
    const inputs = (['admission', 'admissionReview', 'request'] as const).filter((k) => c[k] !== undefined);
    if (inputs.length !== 1) {
      this.r.issue(path, inputs.length === 0 ? 'a case needs one of admission, admissionReview or request' : `a case takes only one of ${inputs.join(', ')}`);
      return undefined;
    }
    const kind = inputs[0]!;
    const kubernetesDefaults = kind === 'admission' && this.#kubernetesDefaults(c.admission, [...path, kind]);
    const input = kind === 'admission' ? this.#admission(c.admission, [...path, kind], kubernetesDefaults) : kind === 'admissionReview' ? this.#review(c.admissionReview, [...path, kind]) : this.#access(c.request, [...path, kind]);
    let skip: string | undefined;
    if (c.skip !== undefined) {
      if (c.skip === true) skip = 'skipped';
      else if (typeof c.skip === 'string' && c.skip !== '') skip = c.skip;
      else if (c.skip !== false) this.r.issue([...path, 'skip'], 'skip must be true or a reason');
    }
    if (c.expect === undefined) {
      this.r.issue(path, 'every case needs expect: a case without an expectation cannot fail');
      return undefined;
    }
    const expect = this.#expect(c.expect, [...path, 'expect'], input?.face ?? 'admission', kubernetesDefaults);
    if (!name || !input || !expect) return undefined;
    return { name, location: this.r.where(path), line: this.r.line(path), input, expect, ...(skip ? { skip } : {}) };
  }

  #admission(value: unknown, path: Path, defaults: boolean): CaseInput | undefined {
    const a = this.r.mapping(value, path, ADMISSION_FIELDS);
    if (!a) return undefined;
    const operation = a.operation === undefined ? (this.#defaults.operation ?? 'CREATE') : this.#operation(a.operation, [...path, 'operation']);
    const object = a.object === undefined ? undefined : this.#object(a.object, [...path, 'object']);
    const oldObject = a.oldObject === undefined ? undefined : this.#object(a.oldObject, [...path, 'oldObject']);
    if (operation === 'DELETE' ? oldObject === undefined : object === undefined) {
      this.r.issue(path, operation === 'DELETE' ? 'a DELETE needs oldObject' : `a ${operation ?? 'request'} needs object`);
      return undefined;
    }
    if (operation === 'UPDATE' && oldObject === undefined) {
      this.r.issue(path, 'an UPDATE needs oldObject (the object before the change)');
      return undefined;
    }
    const namespace = a.namespace === undefined ? this.#defaults.namespace : this.r.string(a.namespace, [...path, 'namespace']);
    const userInfo = a.userInfo === undefined ? this.#defaults.userInfo : this.#userInfo(a.userInfo, [...path, 'userInfo']);
    const dryRun = a.dryRun === undefined ? this.#defaults.dryRun : this.r.boolean(a.dryRun, [...path, 'dryRun']);
    if (!operation) return undefined;
    let request: AdmissionRequest;
    try {
      request = requestForObject(operation === 'DELETE' ? oldObject : object, {
        operation,
        ...(oldObject !== undefined ? { oldObject } : {}),
        ...(userInfo ? { userInfo } : {}),
        ...(dryRun !== undefined ? { dryRun } : {}),
        ...(namespace !== undefined ? { namespace } : {}),
        defaults,
      });
    } catch (error) {
      this.r.issue(path, `cannot build an AdmissionRequest: ${(error as Error).message}`);
      return undefined;
    }
    return { face: 'admission', request, ...(defaults ? {} : { kubernetesDefaults: false }) };
  }

  /**
   * Whether an admission case's objects get kube-apiserver's built-in defaults: the case's
   * `kubernetesDefaults`, else the suite's, else true.
   */
  #kubernetesDefaults(admission: unknown, path: Path): boolean {
    const own = isMapping(admission) ? admission.kubernetesDefaults : undefined;
    if (own === undefined) return this.#defaults.kubernetesDefaults ?? true;
    return this.r.boolean(own, [...path, 'kubernetesDefaults']) ?? true;
  }

  #review(value: unknown, path: Path): CaseInput | undefined {
    const ref = this.r.mapping(value, path, ['file', 'document']);
    if (!ref) return undefined;
    const review = this.#fileObject(ref, path);
    if (review === undefined) return undefined;
    const request = isMapping(review) ? review.request : undefined;
    if (!isMapping(request) || !isMapping(request.kind) || !isMapping(request.resource) || typeof request.operation !== 'string') {
      this.r.issue(path, 'the file is not an AdmissionReview with request.kind, request.resource and request.operation');
      return undefined;
    }
    return { face: 'admission', request: { uid: 'policy-test', userInfo: {}, ...request } as unknown as AdmissionRequest };
  }

  #access(value: unknown, path: Path): CaseInput | undefined {
    const a = this.r.mapping(value, path, ACCESS_FIELDS);
    if (!a) return undefined;
    const peer = ['address', 'port', 'principal', 'labels'];
    if (a.source !== undefined) this.r.mapping(a.source, [...path, 'source'], peer);
    if (a.destination !== undefined) this.r.mapping(a.destination, [...path, 'destination'], [...peer, 'namespace']);
    if (a.connection !== undefined) this.r.mapping(a.connection, [...path, 'connection'], ['mtls', 'requested_server_name', 'uri_san_peer_certificate']);
    if (a.context !== undefined) this.r.stringMap(a.context, [...path, 'context']);
    const req = this.r.mapping(a.request, [...path, 'request'], ['id', 'time', 'method', 'path', 'host', 'scheme', 'protocol', 'headers', 'body']);
    if (!req) return undefined;
    if (typeof req.method !== 'string' || typeof req.path !== 'string') {
      this.r.issue([...path, 'request'], 'request.method and request.path are required strings');
      return undefined;
    }
    if (req.headers !== undefined) {
      const headers = this.r.stringMap(req.headers, [...path, 'request', 'headers']);
      if (headers && Object.keys(headers).some((h) => h !== h.toLowerCase())) {
        this.r.issue([...path, 'request', 'headers'], 'header names must be lower-case (as Envoy passes them)');
      }
    }
    return { face: 'access', request: toPlainJson(a) as AccessRequest };
  }

  #expect(value: unknown, path: Path, face: 'admission' | 'access', kubernetesDefaults = false): Expectation | undefined {
    const e = this.r.mapping(value, path, face === 'admission' ? EXPECT_ADMISSION : EXPECT_ACCESS);
    if (!e) return undefined;
    if (Object.keys(e).length === 0) {
      this.r.issue(path, 'expect is empty: say what should happen (allowed, message, ...)');
      return undefined;
    }
    const at = (key: string): Path => [...path, key];
    const out: { -readonly [K in keyof Expectation]: Expectation[K] } = {};
    if (e.allowed !== undefined) out.allowed = this.r.boolean(e.allowed, at('allowed'));
    if (e.status !== undefined) {
      if (face === 'access' && typeof e.status !== 'object') out.status = { code: this.r.integer(e.status, at('status'))! };
      else {
        const s = this.r.mapping(e.status, at('status'), face === 'access' ? ['code'] : ['code', 'reason']);
        if (s) {
          out.status = {
            ...(s.code !== undefined ? { code: this.r.integer(s.code, [...at('status'), 'code'])! } : {}),
            ...(s.reason !== undefined ? { reason: this.r.string(s.reason, [...at('status'), 'reason'])! } : {}),
          };
        }
      }
    }
    if (e.message !== undefined) out.message = this.r.string(e.message, at('message'));
    if (e.messageContains !== undefined) out.messageContains = this.r.string(e.messageContains, at('messageContains'));
    if (e.messageMatches !== undefined) {
      const source = this.r.string(e.messageMatches, at('messageMatches'));
      if (source !== undefined) {
        try {
          out.messageMatches = new RegExp(source);
        } catch (error) {
          this.r.issue(at('messageMatches'), `not a regular expression: ${(error as Error).message}`);
        }
      }
    }
    if (e.warnings !== undefined) out.warnings = this.r.stringList(e.warnings, at('warnings'));
    if (e.auditAnnotations !== undefined) out.auditAnnotations = this.r.stringMap(e.auditAnnotations, at('auditAnnotations'));
    if (e.patchedObject !== undefined) {
      const expected = e.patchedObject === null ? null : this.#object(e.patchedObject, at('patchedObject'));
      // kube-apiserver defaults the object again after every mutation, so the object admission ends
      // with is always defaulted: the expected one is compared as the API server would hold it, and
      // may be written as a manifest (defaults never change a value that is set).
      out.patchedObject = kubernetesDefaults && expected !== null ? applyKubernetesDefaults(expected) : expected;
    }
    if (e.headers !== undefined) out.headers = this.r.stringMap(e.headers, at('headers'));
    if (e.headersToRemove !== undefined) out.headersToRemove = this.r.stringList(e.headersToRemove, at('headersToRemove'));
    if (e.route !== undefined) out.route = e.route === null ? null : this.r.stringMap(e.route, at('route'));
    if (e.policies !== undefined) out.policies = this.#policyExpectations(e.policies, at('policies'));
    return out;
  }

  #policyExpectations(value: unknown, path: Path): PolicyExpectation[] {
    const list = this.r.list(value, path) ?? [];
    const out: PolicyExpectation[] = [];
    list.forEach((item, i) => {
      const p = this.r.mapping(item, [...path, i], ['name', 'result']);
      if (!p) return;
      const name = this.r.string(p.name, [...path, i, 'name']);
      const result = this.r.string(p.result, [...path, i, 'result']);
      if (name !== undefined && result !== undefined) out.push({ name, result });
    });
    return out;
  }
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else (lists too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMapping(patch)) return patch;
  const out: Record<string, unknown> = isMapping(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
