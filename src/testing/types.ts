/** The PolicyTest model after loading: every reference resolved, every value plain JSON. */
import type { AccessRequest } from '../engine/access/types.js';
import type { AdmissionRequest } from '../engine/admission/types.js';

export interface PolicyExpectation {
  readonly name: string;
  /** Admission: deny | warn | audit | pass | skip | error. Access: ALLOW | DENY | AUDIT | CUSTOM (any case). */
  readonly result: string;
}

/** What a case expects; only the fields given are checked. */
export interface Expectation {
  readonly allowed?: boolean;
  readonly status?: { readonly code?: number; readonly reason?: string };
  readonly message?: string;
  readonly messageContains?: string;
  readonly messageMatches?: RegExp;
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
  /** null: the policies must not change the object. */
  readonly patchedObject?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly headersToRemove?: readonly string[];
  readonly route?: Readonly<Record<string, string>> | null;
  readonly policies?: readonly PolicyExpectation[];
}

export type CaseInput =
  | { readonly face: 'admission'; readonly request: AdmissionRequest; /** false: no built-in defaulting (kubernetesDefaults: false). */ readonly kubernetesDefaults?: boolean }
  | { readonly face: 'access'; readonly request: AccessRequest };

export interface TestCase {
  readonly name: string;
  /** `file:line` of the case in its test file. */
  readonly location: string;
  readonly line: number;
  readonly input: CaseInput;
  readonly expect: Expectation;
  /** A reason to skip the case; undefined when it runs. */
  readonly skip?: string;
}

export interface TestSuite {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  /** Resolved, sorted policy files: the cache key of the compiled policy set. */
  readonly policyFiles: readonly string[];
  /** Namespaces and param objects, plain JSON. */
  readonly clusterObjects: readonly unknown[];
  readonly cases: readonly TestCase[];
  /** Every file the suite read (test, policies, fixtures), for --watch. */
  readonly inputs: readonly string[];
}
