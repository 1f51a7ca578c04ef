/**
 * Semantic versions as Kubernetes' semver library reads them: strict Semantic
 * Versioning 2.0.0 parsing (github.com/blang/semver/v4 `Parse`, with its error
 * messages), the optional normalisation of Kubernetes' `semver(s, true)`, and
 * precedence where pre-release identifiers count and build metadata does not.
 */

export interface PreReleaseIdentifier {
  /** Set for numeric identifiers (compared as numbers, below any alphanumeric). */
  readonly number?: bigint;
  readonly text: string;
}

export interface Version {
  readonly major: bigint;
  readonly minor: bigint;
  readonly patch: bigint;
  readonly preRelease: readonly PreReleaseIdentifier[];
  readonly build: readonly string[];
}

export type ParsedVersion = { readonly version: Version; readonly error?: undefined } | { readonly version?: undefined; readonly error: string };

const UINT64_MAX = (1n << 64n) - 1n;
const NUMERIC = /^[0-9]*$/;
const ALPHANUMERIC = /^[0-9A-Za-z-]*$/;

const failure = (error: string): ParsedVersion => ({ error });
/** Go's %q for the ASCII-or-not strings these messages quote (JSON escaping is close enough). */
const quoted = (text: string): string => JSON.stringify(text);
const hasLeadingZero = (digits: string): boolean => digits.length > 1 && digits[0] === '0';

/** Go's strconv.ParseUint(s, 10, 64), with its error text. */
function parseUint64(digits: string): bigint | string {
  if (digits === '') return `strconv.ParseUint: parsing ${quoted(digits)}: invalid syntax`;
  const value = BigInt(digits);
  return value > UINT64_MAX ? `strconv.ParseUint: parsing ${quoted(digits)}: value out of range` : value;
}

function versionNumber(digits: string, part: 'major' | 'minor' | 'patch'): bigint | string {
  const label = `${part[0]!.toUpperCase()}${part.slice(1)}`;
  if (!NUMERIC.test(digits)) return `Invalid character(s) found in ${part} number ${quoted(digits)}`;
  if (hasLeadingZero(digits)) return `${label} number must not contain leading zeroes ${quoted(digits)}`;
  return parseUint64(digits);
}

function preReleaseIdentifier(text: string): PreReleaseIdentifier | string {
  if (text === '') return 'Prerelease is empty';
  if (NUMERIC.test(text)) {
    if (hasLeadingZero(text)) return `Numeric PreRelease version must not contain leading zeroes ${quoted(text)}`;
    const number = parseUint64(text);
    return typeof number === 'string' ? number : { number, text };
  }
  if (ALPHANUMERIC.test(text)) return { text };
  return `Invalid character(s) found in prerelease ${quoted(text)}`;
}

/** Strict parsing: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], nothing else. */
export function parseVersion(text: string): ParsedVersion {
  if (text === '') return failure('Version string empty');
  const parts = splitN(text, '.', 3);
  if (parts.length !== 3) return failure('No Major.Minor.Patch elements found');
  const major = versionNumber(parts[0]!, 'major');
  if (typeof major === 'string') return failure(major);
  const minor = versionNumber(parts[1]!, 'minor');
  if (typeof minor === 'string') return failure(minor);

  let rest = parts[2]!;
  let build: string[] = [];
  let preReleaseTexts: string[] = [];
  const plus = rest.indexOf('+');
  if (plus !== -1) {
    build = rest.slice(plus + 1).split('.');
    rest = rest.slice(0, plus);
  }
  const dash = rest.indexOf('-');
  if (dash !== -1) {
    preReleaseTexts = rest.slice(dash + 1).split('.');
    rest = rest.slice(0, dash);
  }
  const patch = versionNumber(rest, 'patch');
  if (typeof patch === 'string') return failure(patch);

  const preRelease: PreReleaseIdentifier[] = [];
  for (const identifierText of preReleaseTexts) {
    const identifier = preReleaseIdentifier(identifierText);
    if (typeof identifier === 'string') return failure(identifier);
    preRelease.push(identifier);
  }
  for (const identifier of build) {
    if (identifier === '') return failure('Build meta data is empty');
    if (!ALPHANUMERIC.test(identifier)) return failure(`Invalid character(s) found in build meta data ${quoted(identifier)}`);
  }
  return { version: { major, minor, patch, preRelease, build } };
}

/**
 * Kubernetes' normalisation for semver(s, true): drop one leading "v", strip leading
 * zeros from each dotted part, and fill a missing minor or patch with 0 (a short
 * version may not carry pre-release or build data). Whitespace is not trimmed.
 */
export function parseVersionNormalized(text: string): ParsedVersion {
  const parts = splitN(text.startsWith('v') ? text.slice(1) : text, '.', 3).map(withoutLeadingZeros);
  if (parts.length < 3) {
    if (/[+-]/.test(parts[parts.length - 1]!)) return failure('short version cannot contain PreRelease/Build meta data');
    while (parts.length < 3) parts.push('0');
  }
  return parseVersion(parts.join('.'));
}

function withoutLeadingZeros(part: string): string {
  if (part.length <= 1) return part;
  const trimmed = part.replace(/^0+/, '');
  return trimmed === '' || !/^[0-9]/.test(trimmed) ? `0${trimmed}` : trimmed;
}

/** Go's strings.SplitN: at most n pieces, the last holding the rest. */
function splitN(text: string, separator: string, n: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (pieces.length < n - 1) {
    const at = rest.indexOf(separator);
    if (at === -1) break;
    pieces.push(rest.slice(0, at));
    rest = rest.slice(at + separator.length);
  }
  pieces.push(rest);
  return pieces;
}

const order = <T extends bigint | number | string>(a: T, b: T): -1 | 0 | 1 => (a === b ? 0 : a > b ? 1 : -1);

function compareIdentifiers(a: PreReleaseIdentifier, b: PreReleaseIdentifier): -1 | 0 | 1 {
  if (a.number !== undefined && b.number !== undefined) return order(a.number, b.number);
  if (a.number !== undefined) return -1;
  if (b.number !== undefined) return 1;
  return order(a.text, b.text);
}

/** Semantic Versioning 2.0.0 precedence; build metadata is ignored. */
export function compareVersions(a: Version, b: Version): -1 | 0 | 1 {
  const core = order(a.major, b.major) || order(a.minor, b.minor) || order(a.patch, b.patch);
  if (core !== 0) return core;
  const aIsRelease = a.preRelease.length === 0;
  const bIsRelease = b.preRelease.length === 0;
  // A release ranks above its pre-releases.
  if (aIsRelease || bIsRelease) return aIsRelease === bIsRelease ? 0 : aIsRelease ? 1 : -1;
  const shared = Math.min(a.preRelease.length, b.preRelease.length);
  for (let i = 0; i < shared; i++) {
    const result = compareIdentifiers(a.preRelease[i]!, b.preRelease[i]!);
    if (result !== 0) return result;
  }
  return order(a.preRelease.length, b.preRelease.length);
}
