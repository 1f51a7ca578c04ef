/**
 * Durations and sizes as people write them in config files: Go/Istio-style durations
 * (`1.5s`, `300ms`, `1m30s`) and Kubernetes-style quantities (`10Mi`, `1Gi`, `512k`, plain bytes).
 */
import { parseDuration as parseIstioDuration } from '../routing/durations.js';

/** Milliseconds of a duration string, or an error message. Fractions of a millisecond round up. */
export function parseDuration(text: string): number | { readonly error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'empty duration (write e.g. "500ms", "2s", "1m")' };
  if (/^\d+(\.\d+)?$/.test(trimmed)) return { error: `duration "${text}" needs a unit (ms, s, m, h), e.g. "${trimmed}s"` };
  // The same Go/Istio duration grammar the mesh resources use.
  const total = parseIstioDuration(trimmed);
  if (total === undefined) return { error: `"${text}" is not a duration (write e.g. "500ms", "1.5s", "2m", "1m30s")` };
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) return { error: `duration "${text}" is too large` };
  return Math.ceil(total);
}

const SIZE_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** Bytes of a size (number or quantity string), or an error message. */
export function parseSize(value: string | number): number | { readonly error: string } {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : { error: `size ${value} must be a whole number of bytes` };
  }
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(value.trim());
  if (!match) return { error: `"${value}" is not a size (write bytes, or e.g. "512Ki", "10Mi", "1Gi")` };
  const bytes = Number(match[1]) * SIZE_SUFFIXES[match[2] ?? '']!;
  if (!Number.isSafeInteger(bytes)) return { error: `size "${value}" is not a whole number of bytes or is too large` };
  return bytes;
}
