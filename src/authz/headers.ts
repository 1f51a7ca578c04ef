/** Header checks shared by both servers: a policy may only emit headers HTTP can carry. */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Decision headers that are valid HTTP fields; invalid ones are dropped rather than failing the answer. */
export function validHeaders(headers: Readonly<Record<string, string>>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name in headers) {
    const value = headers[name]!;
    if (TOKEN.test(name) && typeof value === 'string' && FIELD_VALUE.test(value)) out.push([name.toLowerCase(), value]);
  }
  return out;
}

export function validHeaderNames(names: readonly string[]): string[] {
  return names.filter((name) => TOKEN.test(name)).map((name) => name.toLowerCase());
}
