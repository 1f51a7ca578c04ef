/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for the proxy: continue the caller's
 * trace when its `traceparent` is valid, start a new one otherwise, and hand the upstream a
 * child `traceparent` (same trace id, the proxy's own span id). Also keeps or creates the
 * `x-request-id` that Envoy-based meshes use to tie logs together.
 */
import { randomFillSync, randomUUID } from 'node:crypto';

export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** The proxy's span id: the parent-id the upstream sees. */
  readonly spanId: string;
  /** The caller's parent-id, when its traceparent was valid. */
  readonly parentId?: string;
  readonly sampled: boolean;
  /** The `traceparent` to send upstream. */
  readonly traceparent: string;
  /** The caller's `tracestate`, unchanged (only kept when its traceparent was valid). */
  readonly tracestate?: string;
  /** `x-request-id` to send upstream and log. */
  readonly requestId: string;
}

export interface ParsedTraceparent {
  readonly version: number;
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: number;
}

export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

const SAMPLED = 0x01;
const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** Printable ASCII without spaces, bounded: anything else is replaced by a fresh UUID. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Parses a `traceparent` value, or returns undefined when it must be ignored. Version 00 is
 * exactly 55 characters; a higher version is read by its 00 prefix (the spec's forward
 * compatibility rule); version ff is invalid.
 */
export function parseTraceparent(value: string): ParsedTraceparent | undefined {
  if (value.length < 55) return undefined;
  const version = value.slice(0, 2);
  if (!isHex(version) || version === 'ff') return undefined;
  const v = parseInt(version, 16);
  if (v === 0 ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return undefined;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!isHex(traceId) || traceId === ZERO_TRACE) return undefined;
  if (!isHex(parentId) || parentId === ZERO_SPAN) return undefined;
  if (!isHex(flags)) return undefined;
  return { version: v, traceId, parentId, flags: parseInt(flags, 16) };
}

function isHex(text: string): boolean {
  return HEX.test(text);
}

/**
 * The trace context of one request. `sampleNew` sets the sampled flag of traces the proxy
 * starts (default false: the proxy records no spans itself).
 */
export function traceContext(headers: HeaderBag, options: { sampleNew?: boolean } = {}): TraceContext {
  const incoming = headers['traceparent'];
  // Two traceparent headers cannot be told apart: treat the pair as invalid.
  const parsed = typeof incoming === 'string' ? parseTraceparent(incoming) : undefined;
  const spanId = randomHex(8, ZERO_SPAN);
  const requestId = requestIdOf(headers['x-request-id']);
  if (!parsed) {
    const traceId = randomHex(16, ZERO_TRACE);
    const sampled = options.sampleNew ?? false;
    return { traceId, spanId, sampled, traceparent: format(traceId, spanId, sampled), requestId };
  }
  const sampled = (parsed.flags & SAMPLED) !== 0;
  const tracestate = joinHeader(headers['tracestate']);
  return {
    traceId: parsed.traceId,
    spanId,
    parentId: parsed.parentId,
    sampled,
    traceparent: format(parsed.traceId, spanId, sampled),
    ...(tracestate !== undefined ? { tracestate } : {}),
    requestId,
  };
}

/** Version 00 with only the sampled flag: the one flag this version defines. */
function format(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

function requestIdOf(value: string | readonly string[] | undefined): string {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : randomUUID();
}

/** Several tracestate headers combine into one list, in order. */
function joinHeader(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  return joined.trim() === '' ? undefined : joined;
}

// Random ids from a reused pool: one randomFillSync call per 512 ids instead of one per id.
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function randomHex(bytes: number, zero: string): string {
  for (;;) {
    if (poolOffset + bytes > POOL.length) {
      randomFillSync(POOL);
      poolOffset = 0;
    }
    let out = '';
    for (let i = 0; i < bytes; i++) out += BYTE_HEX[POOL[poolOffset + i]!]!;
    poolOffset += bytes;
    // All zeros is an invalid id; astronomically unlikely, but never send one.
    if (out !== zero) return out;
  }
}
