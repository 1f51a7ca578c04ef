/**
 * What only the elected leader does, run after each accepted policy set and on becoming leader:
 * write the celgate.dev/Compiled condition of the cluster's ValidatingAdmissionPolicies
 * (status.ts) and keep the webhook configurations current (registration.ts). One run at a time;
 * a change during a run schedules one more with the newest state, so the last state always wins.
 */
import type { V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import type { PolicyProblem, StatusWriter } from './status.js';

/** The policy set now serving, as the leader's duties need it. */
export interface ServingState {
  /** Admission policy and binding documents (plain JSON): the webhook rules cover what they match. */
  readonly documents: readonly unknown[];
  /** Problems of cluster ValidatingAdmissionPolicies, by name; a policy not listed compiled. */
  readonly problems: ReadonlyMap<string, readonly PolicyProblem[]>;
}

export interface LeaderDutiesOptions {
  readonly isLeader: () => boolean;
  /** The cluster's ValidatingAdmissionPolicies as last seen (with their status). */
  readonly clusterPolicies: () => readonly V1ValidatingAdmissionPolicy[];
  readonly status?: StatusWriter;
  /** Brings the webhook configurations in line with the documents (with --register-webhooks). */
  readonly register?: (documents: readonly unknown[]) => Promise<void>;
  readonly onStatusWritten?: (names: readonly string[]) => void;
  readonly onError?: (error: Error) => void;
}

export interface LeaderDuties {
  /** A new policy set is serving. */
  served(state: ServingState): void;
  /** This replica became the leader: bring everything in line with the set serving now. */
  startedLeading(): void;
  /** Resolves when no run is in progress (tests, shutdown). */
  idle(): Promise<void>;
  close(): void;
}

export function createLeaderDuties(options: LeaderDutiesOptions): LeaderDuties {
  let state: ServingState | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let closed = false;

  const runOnce = async (): Promise<void> => {
    while (dirty && !closed && state && options.isLeader()) {
      dirty = false;
      const current = state;
      // The registrar reports its own failures (and retries them); awaiting keeps runs in order.
      const registering = options.register?.(current.documents).catch((error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
      if (options.status) {
        try {
          const reports = options.clusterPolicies().map((policy) => ({ policy, problems: current.problems.get(policy.metadata?.name ?? '') ?? [] }));
          const written = await options.status.report(reports);
          if (written.length > 0) options.onStatusWritten?.(written);
        } catch (error) {
          options.onError?.(error instanceof Error ? error : new Error(String(error)));
        }
      }
      await registering;
    }
  };

  const kick = (): void => {
    dirty = true;
    running ??= runOnce().finally(() => {
      running = undefined;
      if (dirty && !closed && state && options.isLeader()) kick();
    });
  };

  return {
    served(next) {
      state = next;
      kick();
    },
    startedLeading() {
      kick();
    },
    async idle() {
      while (running) await running;
    },
    close() {
      closed = true;
    },
  };
}
