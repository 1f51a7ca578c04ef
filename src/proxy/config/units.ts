/**
 * Durations and sizes as people write them in config files: Go/Istio-style durations
 * (`1.5s`, `300ms`, `1m30s`) and Kubernetes-style quantities (`10Mi`, `1Gi`, `512k`, plain bytes).
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds of a duration string, or an error message. Fractions of a millisecond round up. */
export function parseDuration(text: string): number | { readonly error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'empty duration (write e.g. "500ms", "2s", "1m")' };
  if (/^\d+(\.\d+)?$/.test(trimmed)) return { error: `duration "${text}" needs a unit (ms, s, m, h), e.g. "${trimmed}s"` };
  let total = 0;
  let at = 0;
  DURATION_PART.lastIndex = 0;
  while (at < trimmed.length) {
    DURATION_PART.lastIndex = at;
    const match = DURATION_PART.exec(trimmed);
    if (!match) return { error: `"${text}" is not a duration (write e.g. "500ms", "1.5s", "2m", "1m30s")` };
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    at = DURATION_PART.lastIndex;
  }
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
