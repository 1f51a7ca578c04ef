/**
 * Status for ValidatingAdmissionPolicies that celgate cannot compile, written by the elected
 * leader only (replicas would otherwise fight over the same field).
 *
 * kube-apiserver already validates a policy's CEL when it is created, and its type-checking
 * controller owns `status.typeChecking` (it rewrites that field for each policy generation it
 * checks). A policy the API server accepted can still fail in celgate (a CEL feature or library
 * celgate does not have, a cost limit), so celgate reports through its own condition in
 * `status.conditions` and leaves `typeChecking` to the API server:
 *
 *   type: celgate.dev/Compiled   status: "False"   reason: CompileError   message: the errors
 *
 * When the policy compiles again the condition turns "True" (reason Compiled). A policy that has
 * never failed gets no condition, so a healthy cluster sees no status writes at all. Conditions
 * follow metav1.Condition: lastTransitionTime changes only when `status` does; observedGeneration
 * is the policy generation the condition describes.
 */
import type { AdmissionregistrationV1Api, V1Condition, V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import { statusCodeOf } from './leader-election.js';

export type PolicyStatusApi = Pick<AdmissionregistrationV1Api, 'readValidatingAdmissionPolicy' | 'replaceValidatingAdmissionPolicyStatus'>;

export const COMPILED_CONDITION = 'celgate.dev/Compiled';

/** metav1.Condition.message is limited to 32768 bytes. */
const MAX_MESSAGE = 32_768;

export interface PolicyProblem {
  /** e.g. `spec.validations[0].expression`, when known. */
  readonly field?: string;
  readonly message: string;
}

export interface PolicyReport {
  /** The policy as last seen (from the informer): its name, generation and current status. */
  readonly policy: V1ValidatingAdmissionPolicy;
  /** Empty when the policy compiled. */
  readonly problems: readonly PolicyProblem[];
}

type PolicyStatus = NonNullable<V1ValidatingAdmissionPolicy['status']>;

function message(problems: readonly PolicyProblem[]): string {
  const text = `celgate cannot compile this policy; it is not enforced by celgate: ${problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ')}`;
  return Buffer.byteLength(text) <= MAX_MESSAGE ? text : `${Buffer.from(text).subarray(0, MAX_MESSAGE - 3).toString()}...`;
}

const timeOf = (value: unknown): number | undefined => (value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : undefined);

/**
 * The status the policy should have, or undefined when the current one is already right
 * (nothing to write).
 */
export function desiredStatus(report: PolicyReport, now: Date): PolicyStatus | undefined {
  const status: PolicyStatus = report.policy.status ?? {};
  const conditions = status.conditions ?? [];
  const current = conditions.find((c) => c.type === COMPILED_CONDITION);
  const generation = report.policy.metadata?.generation;
  let next: V1Condition;
  if (report.problems.length > 0) {
    next = { type: COMPILED_CONDITION, status: 'False', reason: 'CompileError', message: message(report.problems), lastTransitionTime: now, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  } else if (current) {
    next = { type: COMPILED_CONDITION, status: 'True', reason: 'Compiled', message: 'celgate compiled this policy', lastTransitionTime: now, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  } else {
    return undefined; // never failed: no condition, no write
  }
  if (current && current.status === next.status && current.reason === next.reason && current.message === next.message && current.observedGeneration === next.observedGeneration) return undefined;
  if (current && current.status === next.status) next = { ...next, lastTransitionTime: current.lastTransitionTime };
  // Written as a string: the wire form of metav1.Time (RFC 3339, seconds).
  const stamp = timeOf(next.lastTransitionTime) ?? now.getTime();
  next = { ...next, lastTransitionTime: new Date(Math.floor(stamp / 1000) * 1000) };
  return { ...status, conditions: [...conditions.filter((c) => c.type !== COMPILED_CONDITION), next] };
}

export interface StatusWriterOptions {
  /** Only the leader writes (leader-election.ts `isLeader`). */
  readonly isLeader: () => boolean;
  readonly onError?: (error: Error) => void;
  readonly now?: () => Date;
}

export interface StatusWriter {
  /** Brings each policy's condition in line with its problems; resolves to the names written. */
  report(reports: readonly PolicyReport[]): Promise<readonly string[]>;
}

const CONFLICT_RETRIES = 3;

export function createStatusWriter(api: PolicyStatusApi, options: StatusWriterOptions): StatusWriter {
  const now = options.now ?? (() => new Date());

  const writeOne = async (report: PolicyReport): Promise<boolean> => {
    const name = report.policy.metadata?.name ?? '';
    let policy = report.policy;
    for (let attempt = 1; ; attempt += 1) {
      const status = desiredStatus({ policy, problems: report.problems }, now());
      if (!status) return false;
      try {
        // The status subresource takes the whole object; only .status is applied, and the
        // resourceVersion makes a concurrent change a 409.
        await api.replaceValidatingAdmissionPolicyStatus({ name, body: { ...policy, status } });
        return true;
      } catch (error) {
        const code = statusCodeOf(error);
        if (code === 404) return false; // deleted meanwhile
        if (code !== 409 || attempt >= CONFLICT_RETRIES) throw error;
        policy = await api.readValidatingAdmissionPolicy({ name });
      }
    }
  };

  return {
    async report(reports) {
      if (!options.isLeader()) return [];
      const written: string[] = [];
      for (const report of reports) {
        if (!options.isLeader()) break; // lost the lease mid-way: the new leader takes over
        try {
          if (await writeOne(report)) written.push(report.policy.metadata?.name ?? '');
        } catch (error) {
          const e = error instanceof Error ? error : new Error(String(error));
          options.onError?.(new Error(`cannot write the status of ValidatingAdmissionPolicy ${report.policy.metadata?.name}: ${e.message}`));
        }
      }
      return written;
    },
  };
}
