// The text kube-apiserver writes back for a decoded resource.Quantity. Expected values follow,
// and cite, k8s.io/apimachinery/pkg/api/resource:
// - [parse]  ParseQuantity's fast path: "if the number is in canonical form, reuse the string"
//            (binary digits not a multiple of 8; decimal scale a multiple of 3, digits not ending
//            in 000 and not starting with 0), with UnmarshalJSON trimming whitespace first;
// - [canon]  Quantity.CanonicalizeBytes: BinarySI only for whole values outside (-1024, 1024),
//            else DecimalSI; factors of 10 (or 1024) moved into the exponent, the exponent then
//            brought to a multiple of 3;
// - [suffix] suffix.go: the DecimalSI suffixes n..E, BinarySI Ki..Ei, DecimalExponent e<N>, and
//            no DecimalSI suffix beyond E (the mantissa is printed alone).
import { quantityText } from '../../../src/cel/lib/quantity-text.js';

describe('quantityText: a Quantity as the API server prints it after decoding', () => {
  it('keeps text ParseQuantity judges canonical, as written [parse]', () => {
    for (const text of ['100m', '250m', '1', '1500', '1024', '100Mi', '5Gi', '1Ki', '1n', '129e6', '1e3', '1E', '128974848']) {
      expect([text, quantityText(text)]).toEqual([text, text]);
    }
    // The test looks at the digits only: a sign is kept too.
    expect(quantityText('+1')).toBe('+1');
    expect(quantityText('  2 ')).toBe('2');
  });

  it('rewrites everything else in the canonical form of its format [canon] [suffix]', () => {
    const cases: Array<[string | number, string]> = [
      ['1000m', '1'],
      ['2000', '2k'],
      ['1000', '1k'],
      ['0.5', '500m'],
      ['0.1', '100m'],
      ['1.0', '1'],
      ['2048Mi', '2Gi'],
      ['1024Ki', '1Mi'],
      ['1.5Gi', '1536Mi'],
      // Binary below 1024, or not whole: DecimalSI.
      ['0.5Ki', '512'],
      ['1.1Ki', '1126400m'],
      ['-1Ki', '-1Ki'],
      ['12e-1', '1200e-3'],
      ['0', '0'],
      ['0.000', '0'],
      // Below a nano rounds up to one (ParseQuantity), then prints as 1n.
      ['0.1n', '1n'],
      ['1000E', '1'],
    ];
    for (const [written, printed] of cases) expect([written, quantityText(written)]).toEqual([written, printed]);
  });

  it('takes a JSON number as its literal text (UnmarshalJSON of an unquoted value)', () => {
    expect(quantityText(3)).toBe('3');
    expect(quantityText(0.5)).toBe('500m');
    expect(quantityText(2000)).toBe('2k');
    // JSON writes 1e21 as 1e+21, whose digits and scale pass the reuse test [parse].
    expect(quantityText(1e21)).toBe('1e+21');
  });

  it('gives undefined for text that is no quantity', () => {
    for (const text of ['abc', '', '1,5', '200K', '1Gi5']) expect([text, quantityText(text)]).toEqual([text, undefined]);
  });
});
