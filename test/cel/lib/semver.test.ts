// Kubernetes semver library. Expected values come from, and cite:
// - [lib]    the godoc of k8s.io/apiserver/pkg/cel/library SemverLib (semverlib.go);
// - [libt]   its tests (k8s.io/apiserver/pkg/cel/library/semver_test.go);
// - [semver] Semantic Versioning 2.0.0 (semver.org), §9-§11 on pre-releases, build
//            metadata and precedence, as github.com/blang/semver/v4 (which Kubernetes uses)
//            implements them, with its error messages.
import { CelEnvironment, CelError } from '../../../src/cel/index.js';

const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);
const runError = (expr: string): CelError => {
  try {
    run(expr);
  } catch (error) {
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
};

describe('semver() and isSemver()', () => {
  it('parses the documented examples [lib] [libt]', () => {
    expect(run("semver('1.0.0') == semver('1.0.0')")).toBe(true);
    expect(run("semver('0.1.0-alpha.1').minor()")).toBe(1n);
    expect(run("isSemver('1.0.0')")).toBe(true);
    expect(run("isSemver('1.2.3-beta.1+build.1')")).toBe(true);
    expect(run("isSemver('hello')")).toBe(false);
    expect(run("isSemver('v1.0')")).toBe(false);
    for (const text of ['', 'v1.0.0', ' 1.0.0', '1. 0.0', '1.0.0 ', '01.01.01', '1', '1.1']) {
      expect([text, run(`isSemver('${text}')`)]).toEqual([text, false]);
    }
  });

  it('fails with the parser error for invalid versions [lib] [libt] [semver]', () => {
    expect(runError("semver('v1.0')").message).toMatch(/No Major.Minor.Patch elements found/);
    expect(runError("semver('200K')").message).toMatch(/No Major.Minor.Patch elements found/);
    expect(runError("semver('Three')").kind).toBe('evaluation');
    expect(runError("semver('')").message).toMatch(/Version string empty/);
    expect(runError("semver('a.2.3')").message).toMatch(/Invalid character\(s\) found in major number "a"/);
    expect(runError("semver('1.02.3')").message).toMatch(/Minor number must not contain leading zeroes "02"/);
    expect(runError("semver('1.2.3-01')").message).toMatch(/Numeric PreRelease version must not contain leading zeroes "01"/);
    expect(runError("semver('1.2.3-')").message).toMatch(/Prerelease is empty/);
    expect(runError("semver('1.2.3+')").message).toMatch(/Build meta data is empty/);
    expect(runError("semver('1.2.3+a_b')").message).toMatch(/Invalid character\(s\) found in build meta data "a_b"/);
    expect(runError("semver('1.2.x')").message).toMatch(/Invalid character\(s\) found in patch number "x"/);
    expect(runError("semver('18446744073709551616.0.0')").message).toMatch(/value out of range/);
  });

  it('normalizes when asked: v prefix, missing minor/patch, leading zeros [lib] [libt]', () => {
    expect(run("semver('v1.0.0', true) == semver('1.0.0')")).toBe(true);
    expect(run("semver('1.0', true) == semver('1.0.0')")).toBe(true);
    expect(run("semver('01.01.01', true) == semver('1.1.1')")).toBe(true);
    expect(run("semver('v01.01', true) == semver('1.1.0')")).toBe(true);
    expect(run("semver('1.2.03-rc.1', true) == semver('1.2.3-rc.1')")).toBe(true);
    expect(run("isSemver('v1.0', true)")).toBe(true);
    expect(run("isSemver('1', true) && isSemver('1.1', true) && isSemver('01.01.01', true)")).toBe(true);
    expect(run("isSemver('1.0.0', false)")).toBe(true);
    for (const text of ['', ' 1.0.0', '1. 0.0', '1.0.0 ']) {
      expect([text, run(`isSemver('${text}', true)`)]).toEqual([text, false]);
    }
    expect(runError("semver('1.0-alpha', true)").message).toMatch(/short version cannot contain PreRelease\/Build meta data/);
    expect(run("isSemver('v1.0', false)")).toBe(false);
  });

  it('rejects non-string arguments [libt]', () => {
    expect(() => env.compile('isSemver([1, 2, 3])')).toThrow(/no matching overload/);
    expect(() => env.compile("semver('1.0.0', 1)")).toThrow(/no matching overload/);
    expect(runError('semver(dyn(1))').message).toMatch(/no matching overload/);
  });
});

describe('parts', () => {
  it('major, minor and patch [lib] [libt]', () => {
    expect(run("semver('1.2.3').major()")).toBe(1n);
    expect(run("semver('1.2.3').minor()")).toBe(2n);
    expect(run("semver('1.2.3').patch()")).toBe(3n);
    expect(run("semver('10.20.30-rc.1+build.5').patch()")).toBe(30n);
  });

  it('converts uint64 parts to int like Go does [lib]', () => {
    // Kubernetes returns types.Int(v.Major) on a uint64: values above 2^63-1 wrap.
    expect(run("semver('18446744073709551615.0.0').major()")).toBe(-1n);
    expect(run("semver('9223372036854775807.0.0').major()")).toBe(9223372036854775807n);
  });
});

describe('comparison', () => {
  it('compareTo, isLessThan and isGreaterThan [lib] [libt]', () => {
    expect(run("semver('1.2.3').compareTo(semver('1.2.3'))")).toBe(0n);
    expect(run("semver('1.2.3').compareTo(semver('2.0.0'))")).toBe(-1n);
    expect(run("semver('1.2.3').compareTo(semver('0.1.2'))")).toBe(1n);
    expect(run("semver('1.0.0').isLessThan(semver('1.2.3'))")).toBe(true);
    expect(run("semver('1.0.0').isLessThan(semver('1.0.0'))")).toBe(false);
    expect(run("semver('1.2.3').isGreaterThan(semver('1.0.0'))")).toBe(true);
    expect(run("semver('1.0.0').isGreaterThan(semver('1.0.0'))")).toBe(false);
    expect(run("semver('1.10.0').isGreaterThan(semver('1.9.0'))")).toBe(true);
  });

  it('orders pre-releases by semver precedence [semver]', () => {
    // §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
    //      < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0.
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 0; i + 1 < ordered.length; i++) {
      const [lower, higher] = [ordered[i], ordered[i + 1]];
      expect([lower, higher, run(`semver('${lower}').isLessThan(semver('${higher}'))`)]).toEqual([lower, higher, true]);
      expect([higher, lower, run(`semver('${higher}').compareTo(semver('${lower}'))`)]).toEqual([higher, lower, 1n]);
    }
  });

  it('ignores build metadata in equality and precedence [semver]', () => {
    expect(run("semver('1.0.0+build.1') == semver('1.0.0+build.2')")).toBe(true);
    expect(run("semver('1.0.0-rc.1+a').compareTo(semver('1.0.0-rc.1'))")).toBe(0n);
    expect(run("semver('1.2.3') == semver('1.0.0')")).toBe(false);
    expect(run("semver('1.2.3') != semver('1.0.0')")).toBe(true);
  });

  it('has no ordering operators, as in Kubernetes [lib]', () => {
    expect(() => env.compile("semver('1.0.0') < semver('2.0.0')")).toThrow(CelError);
  });
});
