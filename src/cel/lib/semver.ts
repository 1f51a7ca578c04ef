/**
 * Kubernetes' semver library (k8s.io/apiserver/pkg/cel/library, Kubernetes 1.31+;
 * the normalising overloads since 1.33): `semver(string)`, `semver(string, bool)`,
 * `isSemver(string)`, `isSemver(string, bool)`, and the members major, minor, patch,
 * compareTo, isGreaterThan and isLessThan. `==` uses precedence, so build metadata
 * does not make two versions differ.
 */
import type { CelLibrary } from '../library.js';
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import { compareVersions, parseVersion, parseVersionNormalized, type ParsedVersion, type Version } from './semver-version.js';

export const SEMVER_TYPE = 'kubernetes.Semver';

/** A CEL `kubernetes.Semver`. Immutable; the version is private so field access finds nothing. */
export class Semver {
  readonly #version: Version;

  constructor(version: Version) {
    this.#version = version;
  }

  static versionOf(semver: Semver): Version {
    return semver.#version;
  }

  get celTypeName(): string {
    return SEMVER_TYPE;
  }
}

function parse(text: string, normalize: boolean): ParsedVersion {
  // Kubernetes charges a string traversal (0.1 per character) for parsing.
  charge(Math.ceil(text.length * 0.1));
  return normalize ? parseVersionNormalized(text) : parseVersion(text);
}

function semverOf(text: string, normalize: boolean): Semver {
  const parsed = parse(text, normalize);
  if (parsed.error !== undefined) throw new CelFunctionError(parsed.error);
  return new Semver(parsed.version);
}

const isSemver = (text: string, normalize: boolean): boolean => parse(text, normalize).error === undefined;
const versionOf = (semver: Semver): Version => Semver.versionOf(semver);
const compare = (a: Semver, b: Semver): bigint => BigInt(compareVersions(versionOf(a), versionOf(b)));
/** Kubernetes converts the uint64 parts to CEL's int64 as Go does, wrapping above 2^63-1. */
const asCelInt = (part: bigint): bigint => BigInt.asIntN(64, part);

export const semverLibrary: CelLibrary = {
  name: 'semver',
  register(r) {
    const S = SEMVER_TYPE;
    r.type(S, Semver);
    r.fn(`semver(string): ${S}`, (text: string) => semverOf(text, false));
    r.fn(`semver(string, bool): ${S}`, semverOf);
    r.fn('isSemver(string): bool', (text: string) => isSemver(text, false));
    r.fn('isSemver(string, bool): bool', isSemver);
    r.fn(`${S}.major(): int`, (v: Semver) => asCelInt(versionOf(v).major));
    r.fn(`${S}.minor(): int`, (v: Semver) => asCelInt(versionOf(v).minor));
    r.fn(`${S}.patch(): int`, (v: Semver) => asCelInt(versionOf(v).patch));
    r.fn(`${S}.isGreaterThan(${S}): bool`, (a: Semver, b: Semver) => compare(a, b) === 1n);
    r.fn(`${S}.isLessThan(${S}): bool`, (a: Semver, b: Semver) => compare(a, b) === -1n);
    r.fn(`${S}.compareTo(${S}): int`, compare);
    r.operator(`${S} == ${S}`, (a: Semver, b: Semver) => compare(a, b) === 0n);
  },
};
