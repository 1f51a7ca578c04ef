/**
 * Path normalisation. Istio docs (authorization normalization): BASE decodes %2d %2e %30-39
 * %41-5a %5f %61-7a %7e, rejects %00 (400), converts backslashes and removes dot segments;
 * MERGE_SLASHES merges slashes after BASE; DECODE_AND_MERGE_SLASHES first decodes %2F %2f
 * %5C %5c ("/a%2fb is normalized to /a/b").
 */
import { InvalidPathError, normalizePath, splitPathAndQuery } from '../../../src/engine/access/index.js';
import { hostMatcher, parseIp, parseIpBlock, ipMatcher, pathMatcher, stringMatcher, pathPatternError } from '../../../src/engine/access/patterns.js';

describe('normalizePath', () => {
  it.each([
    ['/a/../b', '/b'],
    ['/a/./b/', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/../../x', '/x'],
    ['/%61%62%2D%2e%5F%7E', '/ab-._~'],
    ['/a/%2e%2e/b', '/b'],
    ['\\da', '/da'],
    ['/a%20b', '/a%20b'],
    ['/a%2fb', '/a%2Fb'],
    ['/a//b', '/a//b'],
    ['/plain/path', '/plain/path'],
  ])('BASE %s → %s', (input, output) => {
    expect(normalizePath(input, 'BASE')).toBe(output);
  });

  it('MERGE_SLASHES and DECODE_AND_MERGE_SLASHES', () => {
    expect(normalizePath('/a//b///c', 'MERGE_SLASHES')).toBe('/a/b/c');
    expect(normalizePath('/a%2fb', 'MERGE_SLASHES')).toBe('/a%2Fb');
    expect(normalizePath('/a%2fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
    expect(normalizePath('/a%5C%5cb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
    expect(normalizePath('/a/%2F../b', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
    expect(normalizePath('/a/../b//c', 'NONE')).toBe('/a/../b//c');
  });

  it('rejects %00', () => {
    expect(() => normalizePath('/a%00', 'BASE')).toThrow(InvalidPathError);
  });

  it('splits the query string off', () => {
    expect(splitPathAndQuery('/a?b=1&c')).toEqual({ path: '/a', query: 'b=1&c' });
    expect(splitPathAndQuery('/a#frag')).toEqual({ path: '/a', query: '' });
  });
});

describe('Istio patterns', () => {
  it('strings: exact, prefix*, *suffix, * = non-empty', () => {
    expect(stringMatcher('a*')('abc')).toBe(true);
    expect(stringMatcher('*c')('abc')).toBe(true);
    expect(stringMatcher('*')('')).toBe(false);
    expect(stringMatcher('abc')('abcd')).toBe(false);
  });

  it('hosts are case-insensitive and ignore a port', () => {
    expect(hostMatcher('*.Example.com')('a.EXAMPLE.com:443')).toBe(true);
    expect(hostMatcher('example.com:8080')('example.com:8080')).toBe(true);
    expect(hostMatcher('example.com:8080')('example.com')).toBe(false);
  });

  it('path templates', () => {
    expect(pathMatcher('/a/{*}/c')('/a/b/c')).toBe(true);
    expect(pathMatcher('/a/{*}/c')('/a//c')).toBe(false);
    expect(pathMatcher('/a/{**}')('/a/b/c/d')).toBe(true);
    expect(pathMatcher('/{**}.mpd')('/content/123/manifest.mpd')).toBe(true);
    expect(pathMatcher('/a.b/{*}')('/aXb/c')).toBe(false);
    expect(pathPatternError('/a/{**}/{*}')).toMatch(/not the last operator/);
    expect(pathPatternError('/a/{*}/*')).toMatch(/bare \*/);
    expect(pathPatternError('/a/*')).toBeUndefined();
  });

  it('IP blocks, v4 and v6', () => {
    expect(parseIp('::ffff:10.0.0.1')).toBe(parseIp('10.0.0.1'));
    const m = ipMatcher([parseIpBlock('10.1.0.0/16') as never, parseIpBlock('fd00::/8') as never]);
    expect(m('10.1.200.3')).toBe(true);
    expect(m('10.2.0.1')).toBe(false);
    expect(m('fd12::1')).toBe(true);
    expect(m('fe80::1')).toBe(false);
    expect(m('garbage')).toBe(false);
    expect(parseIpBlock('1.2.3.4/40')).toMatch(/invalid prefix length/);
    expect(parseIpBlock('1.2.3')).toMatch(/invalid IP address/);
  });
});
