import { CelEnvironment, CelError } from '../../../src/cel/index.js';

// Expected values come from the Kubernetes URL library documentation: the doc comment of
// k8s.io/apiserver/pkg/cel/library urls.go (pkg.go.dev), linked from "Common Expression
// Language in Kubernetes" (kubernetes.io/docs/reference/using-api/cel), and from the
// behaviour of Go's net/url (url.ParseRequestURI, url.Parse) that the library documents.
const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

function evaluationError(expr: string): CelError {
  try {
    run(expr);
  } catch (error) {
    expect(error).toBeInstanceOf(CelError);
    expect((error as CelError).kind).toBe('evaluation');
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
}

const query = (expr: string) => Object.fromEntries(run(expr) as Map<string, string[]>);

describe('url() and isURL()', () => {
  it('accepts absolute URIs and absolute paths (urls.go: url examples)', () => {
    expect(String(run("url('https://user:pass@example.com:80/path?query=val#fragment')"))).toBe(
      'https://user:pass@example.com:80/path?query=val#fragment',
    );
    expect(String(run("url('/absolute-path')"))).toBe('/absolute-path');
  });

  it('rejects other strings with Go’s message (urls.go: url("https://a:b:c/") // error)', () => {
    expect(evaluationError("url('https://a:b:c/')").summary).toBe(
      'URL parse error during conversion from string: parse "https://a:b:c/": invalid port ":c" after host',
    );
    expect(evaluationError("url('../relative-path')").summary).toBe(
      'URL parse error during conversion from string: parse "../relative-path": invalid URI for request',
    );
    expect(evaluationError("url('')").summary).toBe('URL parse error during conversion from string: parse "": empty url');
    expect(evaluationError("url(':foo')").summary).toContain('missing protocol scheme');
    expect(evaluationError("url('/a%zz')").summary).toContain('parse "/a%zz": invalid URL escape "%zz"');
    expect(evaluationError("url('http://a b.com/')").summary).toContain('invalid character " " in host name');
    expect(evaluationError("url('http://a/\\n')").summary).toBe(
      'URL parse error during conversion from string: parse "http://a/\\n": net/url: invalid control character in URL',
    );
    expect(evaluationError("url('http://[::1/')").summary).toContain("missing ']' in host");
    expect(evaluationError("url('http://us er@host/')").summary).toContain('net/url: invalid userinfo');
  });

  it('accepts only IPv6 literals in brackets, at the start of the host (Go net/url)', () => {
    expect(evaluationError("url('http://[127.0.0.1]/')").summary).toContain('invalid IP-literal');
    expect(evaluationError("url('http://[localhost]/')").summary).toContain(
      'invalid host: ParseAddr("localhost"): unable to parse IP',
    );
    expect(evaluationError("url('http://evil.com[::1]:80/')").summary).toContain('invalid IP-literal');
    expect(run("url('http://[fe80::1%25en0]:8080/').getHostname()")).toBe('fe80::1%en0');
  });

  it('isURL (urls.go: isURL examples)', () => {
    expect(run("isURL('https://user:pass@example.com:80/path?query=val#fragment')")).toBe(true);
    expect(run("isURL('/absolute-path')")).toBe(true);
    expect(run("isURL('https://a:b:c/')")).toBe(false);
    expect(run("isURL('../relative-path')")).toBe(false);
    expect(run("isURL('mailto:someone@example.com')")).toBe(true);
    expect(run("isURL('')")).toBe(false);
  });

  it('refuses non-string arguments', () => {
    expect(() => env.compile('url(1)')).toThrow(CelError);
    expect(() => run('url(object.x)', { object: { x: true } })).toThrow(/overload/i);
  });
});

describe('kubernetes.URL accessors', () => {
  it('getScheme (urls.go examples)', () => {
    expect(run("url('/path').getScheme()")).toBe('');
    expect(run("url('https://example.com/').getScheme()")).toBe('https');
    expect(run("url('HTTPS://example.com/').getScheme()")).toBe('https');
  });

  it('getHost keeps the port and IPv6 brackets (urls.go examples)', () => {
    expect(run("url('https://example.com:80/').getHost()")).toBe('example.com:80');
    expect(run("url('https://example.com/').getHost()")).toBe('example.com');
    expect(run("url('https://[::1]:80/').getHost()")).toBe('[::1]:80');
    expect(run("url('https://[::1]/').getHost()")).toBe('[::1]');
    expect(run("url('/path').getHost()")).toBe('');
  });

  it('getHostname drops the port and IPv6 brackets (urls.go examples)', () => {
    expect(run("url('https://example.com:80/').getHostname()")).toBe('example.com');
    expect(run("url('https://127.0.0.1:80/').getHostname()")).toBe('127.0.0.1');
    expect(run("url('https://[::1]:80/').getHostname()")).toBe('::1');
    expect(run("url('/path').getHostname()")).toBe('');
  });

  it('getPort (urls.go examples), empty for an empty port', () => {
    expect(run("url('https://example.com:80/').getPort()")).toBe('80');
    expect(run("url('https://example.com/').getPort()")).toBe('');
    expect(run("url('/path').getPort()")).toBe('');
    expect(run("url('https://example.com:/').getPort()")).toBe('');
    expect(run("url('https://example.com:/').getHost()")).toBe('example.com:');
    expect(run("url('https://example.com:/').getHostname()")).toBe('example.com');
  });

  it('getEscapedPath (urls.go examples)', () => {
    expect(run("url('https://example.com/path').getEscapedPath()")).toBe('/path');
    expect(run("url('https://example.com/path with spaces/').getEscapedPath()")).toBe('/path%20with%20spaces/');
    expect(run("url('https://example.com').getEscapedPath()")).toBe('');
  });

  it('getEscapedPath keeps a valid escaping as written (Go URL.EscapedPath)', () => {
    expect(run("url('https://example.com/a%2Fb').getEscapedPath()")).toBe('/a%2Fb');
    expect(run("url('https://example.com/a%41').getEscapedPath()")).toBe('/a%41');
    expect(run("url('https://example.com/caf\u00e9').getEscapedPath()")).toBe('/caf%C3%A9');
    expect(run("url('mailto:someone@example.com').getEscapedPath()")).toBe('');
    expect(run("url('*').getEscapedPath()")).toBe('*');
  });

  it('getQuery returns every value of every key, unescaped (urls.go examples)', () => {
    expect(query("url('https://example.com/path?k1=a&k2=b&k2=c').getQuery()")).toEqual({ k1: ['a'], k2: ['b', 'c'] });
    expect(query("url('https://example.com/path?key with spaces=value with spaces').getQuery()")).toEqual({
      'key with spaces': ['value with spaces'],
    });
    expect(query("url('https://example.com/path?').getQuery()")).toEqual({});
    expect(query("url('https://example.com/path').getQuery()")).toEqual({});
    expect(run("url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}")).toBe(true);
    expect(run("url('https://example.com/path?k2=b&k2=c').getQuery()['k2'][1]")).toBe('c');
    expect(run("url('https://example.com/path?k2=b&k2=c').getQuery().k2.size()")).toBe(2n);
    expect(run("'k2' in url('https://example.com/path?k2=b').getQuery()")).toBe(true);
    expect(run("url('https://example.com/path').getQuery().size()")).toBe(0n);
  });

  it('getQuery follows url.ParseQuery: + is a space, bad pairs are skipped, the fragment is not query', () => {
    expect(query("url('/p?a=b+c&d=%41&e').getQuery()")).toEqual({ a: ['b c'], d: ['A'], e: [''] });
    expect(query("url('/p?a=1;b=2&c=3&d=%zz').getQuery()")).toEqual({ c: ['3'] });
    expect(query("url('https://user:pass@example.com:80/path?query=val#fragment').getQuery()")).toEqual({ query: ['val'] });
  });

  it('reads the authority of a network-path reference, as url.Parse does', () => {
    expect(run("url('//example.com/x').getHost()")).toBe('example.com');
    expect(run("url('//example.com/x').getEscapedPath()")).toBe('/x');
  });

  it('compares URLs by their text form, as Go prints them', () => {
    expect(run("url('https://example.com/a') == url('https://example.com/a')")).toBe(true);
    expect(run("url('HTTPS://example.com/a') == url('https://example.com/a')")).toBe(true);
    expect(run("url('https://example.com/a') == url('https://example.com/b')")).toBe(false);
  });
});
