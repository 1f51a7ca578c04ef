/**
 * The string validations behind Kubernetes' named formats, with Kubernetes' exact
 * error messages, since users show and compare them:
 * - names and labels from k8s.io/apimachinery (util/validation, api/validate/content,
 *   and api/validation's NameIs* functions for the `...Prefix` variants);
 * - `uri` from Go's url.ParseRequestURI;
 * - `uuid`, `byte`, `date`, `datetime` from k8s.io/kube-openapi's strfmt registry.
 * A validator returns the list of problems, empty when the value is valid.
 */
import { NetURLError, parseRequestURI } from './url-neturl.js';

export type Validator = (value: string) => string[];

/** Go's len(): lengths are limited in bytes. */
const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

const maxLenError = (length: number): string => `must be no more than ${length} characters`;
const EMPTY_ERROR = 'must be non-empty';

/** apimachinery's RegexError: the message, examples and the regex in one sentence. */
function regexError(msg: string, format: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${format}')`;
  const shown = examples.map((e) => `'${e}', `).join(' or ');
  return `${msg} (e.g. ${shown}regex used for validation is '${format}')`;
}

const whole = (format: string): RegExp => new RegExp(`^${format}$`);

// ---------------------------------------------------------------------------------------
// DNS names (RFC 1123, RFC 1035)

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

const dns1123Label = whole(DNS1123_LABEL_FMT);
const dns1123Subdomain = whole(DNS1123_SUBDOMAIN_FMT);
const dns1035Label = whole(DNS1035_LABEL_FMT);

export function isDNS1123Label(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > 63) errors.push(maxLenError(63));
  if (!dns1123Label.test(value)) {
    // A valid subdomain that is not a valid label (length already checked) has dots.
    errors.push(
      dns1123Subdomain.test(value) ? 'must not contain dots' : regexError(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, 'my-name', '123-abc'),
    );
  }
  return errors;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > 253) errors.push(maxLenError(253));
  if (!dns1123Subdomain.test(value)) errors.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errors;
}

export function isDNS1035Label(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > 63) errors.push(maxLenError(63));
  if (!dns1035Label.test(value)) errors.push(regexError(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return errors;
}

/**
 * apimachinery's maskTrailingDash, used when a suffix will be appended to the name
 * (generateName): a trailing '-' is allowed. It drops the last two characters and
 * appends 'a', exactly as Kubernetes does.
 */
function maskTrailingDash(name: string): string {
  return byteLength(name) > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;
}

/** A validator for a name prefix that a generated suffix will follow. */
export const asPrefix =
  (validate: Validator): Validator =>
  (value) =>
    validate(maskTrailingDash(value));

// ---------------------------------------------------------------------------------------
// Label keys (qualified names) and label values

const LABEL_KEY_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${LABEL_KEY_FMT})?`;
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

const labelKeyName = whole(LABEL_KEY_FMT);
const labelValue = whole(LABEL_VALUE_FMT);

/** A qualified name: `name` or `prefix/name`, the prefix a DNS subdomain. */
export function isQualifiedName(value: string): string[] {
  const errors: string[] = [];
  const parts = value.split('/');
  if (parts.length > 2) {
    return [
      `a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') errors.push(`prefix part ${EMPTY_ERROR}`);
    else errors.push(...isDNS1123Subdomain(prefix).map((e) => `prefix part ${e}`));
  }
  if (name === '') errors.push(`name part ${EMPTY_ERROR}`);
  else if (byteLength(name) > 63) errors.push(`name part ${maxLenError(63)}`);
  if (!labelKeyName.test(name)) {
    errors.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errors;
}

export function isLabelValue(value: string): string[] {
  const errors: string[] = [];
  if (byteLength(value) > 63) errors.push(maxLenError(63));
  if (!labelValue.test(value)) errors.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errors;
}

// ---------------------------------------------------------------------------------------
// OpenAPI formats (kube-openapi strfmt) and uri

/** The message of Go's url.ParseRequestURI error, e.g. `parse "x": invalid URI for request`. */
export function validateURI(value: string): string[] {
  try {
    parseRequestURI(value);
    return [];
  } catch (error) {
    if (error instanceof NetURLError) return [error.message];
    throw error;
  }
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
// govalidator's Base64 pattern: standard alphabet, padded, never empty.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;
const FULL_DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
// strfmt's DateTimePattern, applied to the lower-cased text after the 't'; Go's '.' is any
// one character but '\n'.
const TIME_OF_DAY = /^([0-9]{2}):([0-9]{2}):([0-9]{2})([^\n][0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/u;

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Go's time.Parse("2006-01-02", value) succeeding: four-digit year, real month and day. */
export function isFullDate(value: string): boolean {
  const match = FULL_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12) return false;
  const days = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day >= 1 && day <= days;
}

/** strfmt.IsDateTime, quirks included: it splits on every 't' and reads only the first two parts. */
export function isDateTime(value: string): boolean {
  if (byteLength(value) < 4) return false;
  const parts = value.toLowerCase().split('t');
  if (parts.length < 2 || !isFullDate(parts[0]!)) return false;
  const match = TIME_OF_DAY.exec(parts[1]!);
  return match !== null && match[1]! <= '23' && match[2]! <= '59' && match[3]! <= '59';
}

const check =
  (valid: (value: string) => boolean, message: string): Validator =>
  (value) =>
    valid(value) ? [] : [message];

/** Every named format, under the name `format.named()` takes. */
export const FORMAT_VALIDATORS: ReadonlyMap<string, Validator> = new Map<string, Validator>([
  ['dns1123Label', isDNS1123Label],
  ['dns1123Subdomain', isDNS1123Subdomain],
  ['dns1035Label', isDNS1035Label],
  ['qualifiedName', isQualifiedName],
  ['dns1123LabelPrefix', asPrefix(isDNS1123Label)],
  ['dns1123SubdomainPrefix', asPrefix(isDNS1123Subdomain)],
  ['dns1035LabelPrefix', asPrefix(isDNS1035Label)],
  ['labelValue', isLabelValue],
  ['uri', validateURI],
  ['uuid', check((v) => UUID.test(v), 'does not match the UUID format')],
  ['byte', check((v) => BASE64.test(v), 'invalid base64')],
  ['date', check(isFullDate, 'invalid date')],
  ['datetime', check(isDateTime, 'invalid datetime')],
]);
