/**
 * A cheap abort signal for the request path. Node's AbortController/AbortSignal are
 * EventTargets and cost several microseconds per request to create and listen to (the
 * profiles showed ~6% of the plain proxy there); undici accepts an EventEmitter that emits
 * 'abort' and has `aborted`/`reason` as a request's `signal` (documented: "signal:
 * AbortSignal | EventEmitter | null"), so the proxy uses one of these instead.
 */
import { EventEmitter } from 'node:events';

/** What the request path listens to: `aborted`, `reason` and an 'abort' event. */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  once(event: 'abort', listener: () => void): unknown;
  off(event: 'abort', listener: () => void): unknown;
}

export class Abort extends EventEmitter implements AbortLike {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

