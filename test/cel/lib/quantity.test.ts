// Kubernetes quantity library. Expected values come from, and cite:
// - [lib]   the godoc of k8s.io/apiserver/pkg/cel/library Quantity (quantity.go);
// - [libt]  its tests (k8s.io/apiserver/pkg/cel/library/quantity_test.go);
// - [docs]  "Common Expression Language in Kubernetes", Kubernetes quantity library;
// - [res]   k8s.io/apimachinery/pkg/api/resource: the Quantity grammar and ParseQuantity's
//           tests (quantity_test.go TestQuantityParse), and its int64/inf.Dec forms.
import { CelEnvironment, CelError } from '../../../src/cel/index.js';

const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);
const runError = (expr: string, activation: Record<string, unknown> = {}): CelError => {
  try {
    run(expr, activation);
  } catch (error) {
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
};

describe('quantity() and isQuantity()', () => {
  it('parses the documented examples [lib]', () => {
    expect(run("isQuantity('1.3G')")).toBe(true);
    expect(run("isQuantity('1.3Gi')")).toBe(true);
    expect(run("isQuantity('10000k')")).toBe(true);
    expect(run("isQuantity('1,3G')")).toBe(false);
    expect(run("isQuantity('200K')")).toBe(false);
    expect(run("isQuantity('Three')")).toBe(false);
    expect(run("quantity('1.5G') == quantity('1500M')")).toBe(true);
    expect(run("quantity('200k') == quantity('200000')")).toBe(true);
  });

  it('accepts decimal and binary SI suffixes and exponents [libt] [res]', () => {
    expect(run("isQuantity('20') && isQuantity('20M') && isQuantity('20Mi')")).toBe(true);
    const equalities: Array<[string, string]> = [
      ['1Ki', '1024'],
      ['7Mi', '7340032'],
      ['6Gi', '6442450944'],
      ['5Ti', '5497558138880'],
      ['4Pi', '4503599627370496'],
      ['3Ei', '3458764513820540928'],
      ['5n', '0.000000005'],
      ['4u', '0.000004'],
      ['3m', '0.003'],
      ['8k', '8000'],
      ['7M', '7e6'],
      ['2P', '2e15'],
      ['1E', '1e18'],
      ['1E-3', '1m'],
      ['1.3E+6', '1300000'],
      ['0.5e-2', '5m'],
      ['100.035Ki', '102435.84'],
      ['0.5Mi', '524288'],
      ['.001', '1m'],
      ['.0001k', '100m'],
      ['1.', '1'],
      ['1.G', '1e9'],
      ['-1.5Gi', '-1610612736'],
      ['+10M', '10e6'],
    ];
    for (const [a, b] of equalities) expect([a, b, run(`quantity('${a}') == quantity('${b}')`)]).toEqual([a, b, true]);
  });

  it('rounds values below a nano up to whole nanos, away from zero [res]', () => {
    expect(run("quantity('3.001n') == quantity('4n')")).toBe(true);
    expect(run("quantity('1.1E-9') == quantity('2n')")).toBe(true);
    expect(run("quantity('0.0000000001') == quantity('1n')")).toBe(true);
    expect(run("quantity('0.00000012345') == quantity('124n')")).toBe(true);
    expect(run("quantity('0.000000000001Ki') == quantity('2n')")).toBe(true);
    expect(run("quantity('-3.001n') == quantity('-4n')")).toBe(true);
    expect(run("quantity('1e-2147483647') == quantity('1n')")).toBe(true);
  });

  it('caps binary quantities at 2^63-1 but not decimal ones [res]', () => {
    expect(run("quantity('9Ei') == quantity('9223372036854775807')")).toBe(true);
    expect(run("quantity('9223372036854775807Ki') == quantity('9223372036854775807')")).toBe(true);
    expect(run("quantity('-9Ei') == quantity('-9223372036854775807')")).toBe(true);
    expect(run("quantity('12E').isGreaterThan(quantity('9223372036854775807'))")).toBe(true);
  });

  it('accepts a number without digits as zero, as the real parser does [res]', () => {
    // The library godoc lists quantity('Mi') as an error, but ParseQuantity's scanner
    // reads a digit-less mantissa as 0 (apimachinery quantity_exact_policy_test.go,
    // parserLeniencyRef; its TestParseQuantityString accepts "." and "-.").
    expect(run("quantity('Mi') == quantity('0')")).toBe(true);
    expect(run("isQuantity('.') && isQuantity('-.') && isQuantity('e3')")).toBe(true);
    // On the arbitrary-precision path (Pi, Ei) the missing digits are an error instead.
    expect(runError("quantity('Pi')").message).toMatch(/unable to parse numeric part of quantity/);
  });

  it('rejects invalid strings with Kubernetes error messages [libt] [res]', () => {
    expect(runError("quantity('10Mo')").message).toMatch(/quantities must match the regular expression/);
    expect(runError("quantity('10Mm')").message).toMatch(/unable to parse quantity's suffix/);
    expect(runError("quantity('200K')").message).toMatch(/unable to parse quantity's suffix/);
    expect(runError("quantity('Three')").kind).toBe('evaluation');
    expect(runError("quantity('')").message).toMatch(/quantities must match/);
    for (const text of ['1.1.M', '1+1.0M', '0.1mi', '0.1am', 'aoeu', '.5i', '1i', '-3.01i', '-3.01e-', ' 1', '1 ', '1e4294967297']) {
      expect([text, run(`isQuantity('${text}')`)]).toEqual([text, false]);
    }
    expect(run("isQuantity('10Mo')")).toBe(false);
    expect(run("isQuantity('10Mm')")).toBe(false);
  });

  it('rejects non-string arguments [libt]', () => {
    expect(() => env.compile('isQuantity([1, 2, 3])')).toThrow(/no matching overload/);
    expect(() => env.compile('quantity(1)')).toThrow(/no matching overload/);
    expect(runError('quantity(object.n)', { object: { n: 1n } }).message).toMatch(/no matching overload/);
  });
});

describe('equality and comparison', () => {
  it('compares by value [libt] [docs]', () => {
    expect(run("quantity('1Gi') == quantity('1024Mi')")).toBe(true);
    expect(run("quantity('200M') == quantity('200M')")).toBe(true);
    expect(run("quantity('200M') == quantity('0.2G') && quantity('0.2G') == quantity('200M')")).toBe(true);
    expect(
      run("quantity('2M') == quantity('0.002G') && quantity('2000k') == quantity('2M') && quantity('0.002G') == quantity('2000k')"),
    ).toBe(true);
    expect(run("quantity('200M') == quantity('0.3G')")).toBe(false);
    expect(run("quantity('200M') != quantity('0.3G')")).toBe(true);
    expect(run("quantity('1Gi') in [quantity('1M'), quantity('1024Mi')]")).toBe(true);
  });

  it('isLessThan, isGreaterThan and compareTo [lib] [libt]', () => {
    expect(run("quantity('50M').isLessThan(quantity('50Mi'))")).toBe(true);
    expect(run("quantity('50M').isLessThan(quantity('100M'))")).toBe(true);
    expect(run("quantity('100M').isLessThan(quantity('50M'))")).toBe(false);
    expect(run("quantity('50Mi').isGreaterThan(quantity('50M'))")).toBe(true);
    expect(run("quantity('150Mi').isGreaterThan(quantity('100Mi'))")).toBe(true);
    expect(run("quantity('50M').isGreaterThan(quantity('100M'))")).toBe(false);
    expect(run("quantity('200M').compareTo(quantity('0.2G'))")).toBe(0n);
    expect(run("quantity('50M').compareTo(quantity('50Mi'))")).toBe(-1n);
    expect(run("quantity('50Mi').compareTo(quantity('50M'))")).toBe(1n);
    expect(run("quantity('-1').compareTo(quantity('-2'))")).toBe(1n);
  });

  it('compares numbers of very different magnitude quickly and exactly', () => {
    const started = Date.now();
    expect(run("quantity('1e2147483647').isGreaterThan(quantity('99999999999999999999999Ei'))")).toBe(true);
    expect(run("quantity('1n').isLessThan(quantity('1e2147483647'))")).toBe(true);
    expect(run("quantity('-1e2147483647').compareTo(quantity('-1'))")).toBe(-1n);
    expect(Date.now() - started).toBeLessThan(2000); // hanging would mean 2^31 digits
  });

  it('has no ordering operators, as in Kubernetes [lib]', () => {
    expect(() => env.compile("quantity('1') < quantity('2')")).toThrow(CelError);
  });
});

describe('arithmetic', () => {
  it('add and sub with quantities and ints [lib] [libt] [docs]', () => {
    expect(run("quantity('50k').add(quantity('20')) == quantity('50.02k')")).toBe(true);
    expect(run("quantity('50k').add(20) == quantity('50020')")).toBe(true);
    expect(run("quantity('50k').add(20).isLessThan(quantity('50020'))")).toBe(false);
    expect(run("quantity('50k').sub(quantity('20')) == quantity('49.98k')")).toBe(true);
    expect(run("quantity('50k').sub(quantity('20k')) == quantity('30k')")).toBe(true);
    expect(run("quantity('50k').sub(20) == quantity('49980')")).toBe(true);
    expect(run("quantity('50k').sub(20000) == quantity('30k')")).toBe(true);
    expect(run("quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')")).toBe(true);
    expect(run("quantity('50k').add(20).sub(quantity('100k')).asInteger()")).toBe(-49980n);
    expect(run("quantity('50k').add(20).sub(quantity('100k')).sub(-50000).asInteger()")).toBe(20n);
  });

  it('stays exact beyond int64 [res]', () => {
    expect(run("quantity('9223372036854775807').add(1) == quantity('9223372036854775808')")).toBe(true);
    expect(run("quantity('9223372036854775807').add(1).isInteger()")).toBe(false);
    expect(run("quantity('1e100').add(quantity('1')).sub(quantity('1e100')) == quantity('1')")).toBe(true);
    expect(run("quantity('0.1').add(quantity('0.2')) == quantity('0.3')")).toBe(true);
  });

  it('refuses alignments too large to compute instead of hanging', () => {
    const started = Date.now();
    expect(runError("quantity('1e2147483647').add(quantity('1'))").message).toMatch(/digits of precision/);
    expect(Date.now() - started).toBeLessThan(2000); // hanging would mean 2^31 digits
  });

  it('takes only a Quantity or an int as operand [docs]', () => {
    // kubernetes/website#46695 corrected quantity("50k").add("20k") to add(quantity("20k")).
    expect(() => env.compile("quantity('50k').add('20k')")).toThrow(/no matching overload/);
    expect(() => env.compile("quantity('50k').sub(1.5)")).toThrow(/no matching overload/);
  });

  it('has no mul or div: they are proposed upstream, not released', () => {
    expect(() => env.compile("quantity('50k').mul(2)")).toThrow(CelError);
    expect(() => env.compile("quantity('50k').div(2)")).toThrow(CelError);
  });
});

describe('conversion to scalars', () => {
  it('asInteger and isInteger [lib] [libt]', () => {
    expect(run("quantity('50k').asInteger()")).toBe(50000n);
    expect(run("quantity('50k').asInteger() == 50000")).toBe(true);
    expect(run("quantity('50000000G').isInteger()")).toBe(true);
    expect(run("quantity('50k').isInteger()")).toBe(true);
    expect(run("quantity('50').isInteger()")).toBe(true);
    expect(run("quantity('9999999999999999999999999999999999999G').isInteger()")).toBe(false);
    expect(runError("quantity('9999999999999999999999999999999999999G').asInteger()").message).toMatch(
      /cannot convert value to integer/,
    );
    expect(run("quantity('1Ti').asInteger()")).toBe(1099511627776n);
    expect(run("quantity('-8E').asInteger()")).toBe(-8000000000000000000n);
  });

  it('follows Kubernetes int64 form: fractions and the decimal path do not convert [res]', () => {
    // AsInt64 succeeds only for the int64 form at a non-negative scale: "1.000" is kept
    // as 1000e-3, and Pi/Ei or fractional binary values take the inf.Dec form.
    expect(run("quantity('1.5').isInteger()")).toBe(false);
    expect(run("quantity('1.000').isInteger()")).toBe(false);
    expect(run("quantity('1Pi').isInteger()")).toBe(false);
    expect(run("quantity('1.5Gi').isInteger()")).toBe(false);
    expect(run("quantity('1.5Gi') == quantity('1536Mi')")).toBe(true);
  });

  it('asApproximateFloat [lib] [libt]', () => {
    expect(run("quantity('50.703k').asApproximateFloat()")).toBe(50703);
    expect(run("quantity('50k').sub(20000).asApproximateFloat() == 30000.0")).toBe(true);
    expect(run("quantity('1.5').asApproximateFloat()")).toBe(1.5);
    expect(run("quantity('100m').asApproximateFloat()")).toBe(0.1);
    expect(run("quantity('1Gi').asApproximateFloat()")).toBe(1073741824);
    expect(run("quantity('1.5Gi').asApproximateFloat()")).toBeCloseTo(1610612736, 3);
    expect(run("quantity('1e400').asApproximateFloat()")).toBe(Infinity);
    expect(run("quantity('-1e400').asApproximateFloat()")).toBe(-Infinity);
  });

  it('sign is a global function in Kubernetes [lib]', () => {
    // Kubernetes declares sign with cel.Overload (not MemberOverload), so only sign(q) compiles.
    expect(run("sign(quantity('5k'))")).toBe(1n);
    expect(run("sign(quantity('-0.5'))")).toBe(-1n);
    expect(run("sign(quantity('0Gi'))")).toBe(0n);
    expect(run("sign(quantity('50k').sub(quantity('50k')))")).toBe(0n);
    expect(() => env.compile("quantity('1').sign()")).toThrow(/no matching overload/);
  });
});
