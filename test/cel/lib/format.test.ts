import { Optional } from '../../../src/cel/adapter.js';
import { CelEnvironment, CelError } from '../../../src/cel/index.js';

// Expected values come from the Kubernetes format library documentation: the doc comment
// of k8s.io/apiserver/pkg/cel/library format.go (pkg.go.dev), linked from "Common
// Expression Language in Kubernetes" (kubernetes.io/docs/reference/using-api/cel), from
// Kubernetes' format_test.go, and from the validators it names (k8s.io/apimachinery
// validation, kube-openapi strfmt, Go's url.ParseRequestURI).
const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

/** The messages `format.<name>().validate(value)` returns; [] for optional.none(). */
function problems(format: string, value: string): string[] {
  const result = run(`format.${format}().validate(object.value)`, { object: { value } });
  expect(result).toBeInstanceOf(Optional);
  const optional = result as Optional;
  return optional.hasValue() ? (optional.value() as string[]) : [];
}

const DNS1123_LABEL_ERROR =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_ERROR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_ERROR =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_ERROR =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_ERROR =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('format.named() and format.<name>()', () => {
  const names = [
    'dns1123Label',
    'dns1123Subdomain',
    'dns1035Label',
    'qualifiedName',
    'dns1123LabelPrefix',
    'dns1123SubdomainPrefix',
    'dns1035LabelPrefix',
    'labelValue',
    'uri',
    'uuid',
    'byte',
    'date',
    'datetime',
  ];

  it('knows exactly the documented names (format.go: "Allowed names are")', () => {
    for (const name of names) {
      expect(run(`format.named('${name}').hasValue()`)).toBe(true);
      expect(run(`format.named('${name}').value() == format.${name}()`)).toBe(true); // format_test.go
    }
    expect(run("format.named('unknown').hasValue()")).toBe(false); // format_test.go: unknown_format
    expect(run("format.named('portName').hasValue()")).toBe(false);
    expect(run("format.named('DNS1123Label').hasValue()")).toBe(false);
  });

  it('tells different formats apart (format_test.go: compare_*)', () => {
    expect(run('format.dns1123Label() == format.dns1123Subdomain()')).toBe(false);
    expect(run('format.uri() != format.uuid()')).toBe(true);
  });

  it('validates through a looked-up format', () => {
    expect(run("format.named('dns1123Label').value().validate('my-name').hasValue()")).toBe(false);
    expect(run("format.named('dns1123Label').value().validate('My-Name').value()")).toEqual([DNS1123_LABEL_ERROR]);
  });

  it('rejects unknown functions and wrong argument types at compile time', () => {
    expect(() => env.compile('format.portName()')).toThrow(CelError);
    expect(() => env.compile('format.named(1)')).toThrow(CelError);
    expect(() => env.compile('format.uri().validate(1)')).toThrow(CelError);
    expect(() => run('format.uri().validate(object.value)', { object: { value: 1n } })).toThrow(/overload/i);
  });
});

describe('<format>.validate()', () => {
  it('returns optional.none() for the documented examples (format.go examples)', () => {
    expect(problems('dns1123Label', 'my-label-name')).toEqual([]);
    expect(problems('dns1123Subdomain', 'apiextensions.k8s.io')).toEqual([]);
    expect(problems('dns1035Label', 'my-label-name')).toEqual([]);
    expect(problems('qualifiedName', 'apiextensions.k8s.io/v1beta1')).toEqual([]);
    expect(problems('dns1123LabelPrefix', 'my-label-prefix-')).toEqual([]);
    expect(problems('dns1123SubdomainPrefix', 'mysubdomain.prefix.-')).toEqual([]);
    expect(problems('dns1035LabelPrefix', 'my-label-prefix-')).toEqual([]);
    expect(problems('uri', 'http://example.com')).toEqual([]);
    expect(problems('uuid', '123e4567-e89b-12d3-a456-426614174000')).toEqual([]);
    expect(problems('byte', 'aGVsbG8=')).toEqual([]);
    expect(problems('date', '2021-01-01')).toEqual([]);
    expect(problems('datetime', '2021-01-01T00:00:00Z')).toEqual([]);
    expect(run("format.dns1123Label().validate('my-label-name').hasValue()")).toBe(false);
  });

  it('returns Kubernetes’ messages for DNS names (format_test.go)', () => {
    expect(problems('dns1123Label', 'contains a space')).toEqual([DNS1123_LABEL_ERROR]);
    expect(problems('dns1123Subdomain', 'contains a space')).toEqual([DNS1123_SUBDOMAIN_ERROR]);
    expect(problems('dns1035Label', 'contains a space')).toEqual([DNS1035_LABEL_ERROR]);
    expect(problems('dns1123LabelPrefix', 'contains a space-')).toEqual([DNS1123_LABEL_ERROR]);
    expect(problems('dns1123SubdomainPrefix', 'contains a space-')).toEqual([DNS1123_SUBDOMAIN_ERROR]);
    expect(problems('dns1035LabelPrefix', 'contains a space-')).toEqual([DNS1035_LABEL_ERROR]);
  });

  it('checks lengths in bytes and explains dots in labels (apimachinery IsDNS1123Label)', () => {
    expect(problems('dns1123Label', 'a'.repeat(63))).toEqual([]);
    expect(problems('dns1123Label', 'a'.repeat(64))).toEqual(['must be no more than 63 characters']);
    expect(problems('dns1123Label', 'example.com')).toEqual(['must not contain dots']);
    expect(problems('dns1123Subdomain', 'a'.repeat(254))).toEqual(['must be no more than 253 characters']);
    expect(problems('dns1035Label', '1abc')).toEqual([DNS1035_LABEL_ERROR]);
    expect(problems('dns1035Label', 'a'.repeat(64) + '-')).toEqual(['must be no more than 63 characters', DNS1035_LABEL_ERROR]);
  });

  it('prefix formats allow a trailing dash, masked as apimachinery does', () => {
    expect(problems('dns1123LabelPrefix', 'a-')).toEqual([]);
    expect(problems('dns1123LabelPrefix', '-')).toEqual([DNS1123_LABEL_ERROR]);
    expect(problems('dns1123Label', 'my-label-prefix-')).toEqual([DNS1123_LABEL_ERROR]);
    expect(problems('dns1035LabelPrefix', 'Abc-')).toEqual([DNS1035_LABEL_ERROR]);
  });

  it('qualifiedName checks the name part and the DNS prefix (format_test.go, apimachinery IsQualifiedName)', () => {
    expect(problems('qualifiedName', 'my.name')).toEqual([]);
    expect(problems('qualifiedName', 'example.com/Uppercase_Is_OK_123')).toEqual([]);
    expect(problems('qualifiedName', 'contains a space')).toEqual([NAME_PART_ERROR]);
    expect(problems('qualifiedName', '/simple')).toEqual(['prefix part must be non-empty']);
    expect(problems('qualifiedName', 'example.com/')).toEqual(['name part must be non-empty', NAME_PART_ERROR]);
    expect(problems('qualifiedName', 'Example.com/abc')).toEqual([`prefix part ${DNS1123_SUBDOMAIN_ERROR}`]);
    expect(problems('qualifiedName', 'a'.repeat(64))).toEqual(['name part must be no more than 63 characters']);
    expect(problems('qualifiedName', 'only/one/slash')).toEqual([
      "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]);
  });

  it('labelValue (format_test.go: labelValue_success, labelValue_failure)', () => {
    expect(problems('labelValue', 'my-cool-label-Value')).toEqual([]);
    expect(problems('labelValue', '')).toEqual([]);
    expect(problems('labelValue', 'my-cool-label-Value!!\n\n!!!')).toEqual([LABEL_VALUE_ERROR]);
    expect(problems('labelValue', 'a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });

  it('uri reports url.ParseRequestURI’s error (format.go: "Uses same pattern as isURL")', () => {
    expect(problems('uri', '/absolute-path')).toEqual([]);
    expect(problems('uri', 'example.com')).toEqual(['parse "example.com": invalid URI for request']);
    expect(problems('uri', 'https://a:b:c/')).toEqual(['parse "https://a:b:c/": invalid port ":c" after host']);
  });

  it('uuid accepts upper case and missing dashes (kube-openapi strfmt UUIDPattern)', () => {
    expect(problems('uuid', '123E4567-E89B-12D3-A456-426614174000')).toEqual([]);
    expect(problems('uuid', '123e4567e89b12d3a456426614174000')).toEqual([]);
    expect(problems('uuid', '123e4567-e89b-12d3-a456-42661417400')).toEqual(['does not match the UUID format']);
  });

  it('byte wants padded standard base64 (format_test.go: byte_failure)', () => {
    expect(problems('byte', 'aGVsbG8')).toEqual(['invalid base64']);
    expect(problems('byte', 'aGVsbA==')).toEqual([]);
    expect(problems('byte', 'aGV-bG8=')).toEqual(['invalid base64']);
    expect(problems('byte', '')).toEqual(['invalid base64']);
  });

  it('date wants a real calendar date (format_test.go: date_failure)', () => {
    expect(problems('date', '2020-01-32')).toEqual(['invalid date']);
    expect(problems('date', '2020-02-29')).toEqual([]);
    expect(problems('date', '2021-02-29')).toEqual(['invalid date']);
    expect(problems('date', '2020-13-01')).toEqual(['invalid date']);
    expect(problems('date', '2020-1-01')).toEqual(['invalid date']);
    expect(problems('date', '2020-01-01T00:00:00Z')).toEqual(['invalid date']);
  });

  it('datetime follows strfmt.IsDateTime (format_test.go: datetime_failure)', () => {
    expect(problems('datetime', '2020-01-32T00:00:00Z')).toEqual(['invalid datetime']);
    expect(problems('datetime', '2020-01-01t00:00:00z')).toEqual([]);
    expect(problems('datetime', '2020-01-01T23:59:59.123+01:00')).toEqual([]);
    expect(problems('datetime', '2020-01-01T24:00:00Z')).toEqual(['invalid datetime']);
    expect(problems('datetime', '2020-01-01T00:00:00')).toEqual(['invalid datetime']);
    expect(problems('datetime', '2020-01-01 00:00:00Z')).toEqual(['invalid datetime']);
  });

  it('gives the list of problems to a messageExpression (format.go: example usage)', () => {
    const object = { metadata: { name: 'Bad_Name' } };
    expect(run('format.dns1123Label().validate(object.metadata.name).hasValue()', { object })).toBe(true);
    expect(run('format.dns1123Label().validate(object.metadata.name).value()[0]', { object })).toBe(DNS1123_LABEL_ERROR);
  });
});
