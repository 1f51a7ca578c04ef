import { CelEnvironment, CelError } from '../../../src/cel/index.js';

// Expected values come from the Kubernetes IP and CIDR library documentation: the doc
// comments of k8s.io/apiserver/pkg/cel/library ip.go and cidr.go (pkg.go.dev), which the
// page "Common Expression Language in Kubernetes" (kubernetes.io/docs/reference/using-api/cel)
// links to, and from Kubernetes' own library tests (ip_test.go, cidr_test.go).
const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

function evaluationError(expr: string, activation: Record<string, unknown> = {}): CelError {
  try {
    run(expr, activation);
  } catch (error) {
    expect(error).toBeInstanceOf(CelError);
    expect((error as CelError).kind).toBe('evaluation');
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
}

describe('ip()', () => {
  it('parses IPv4 and IPv6 addresses (ip.go: ip examples)', () => {
    expect(String(run("ip('127.0.0.1')"))).toBe('127.0.0.1');
    expect(String(run("ip('::1')"))).toBe('::1');
    expect(run("type(ip('127.0.0.1')) == type(ip('::1'))")).toBe(true);
  });

  it('rejects invalid addresses with Kubernetes’ message (ip.go: ip("127.0.0.256") // error)', () => {
    expect(evaluationError("ip('127.0.0.256')").summary).toBe(
      'IP Address "127.0.0.256" parse error during conversion from string: ParseAddr("127.0.0.256"): IPv4 field has value >255',
    );
    expect(evaluationError("ip(':::1')").summary).toMatch(/^IP Address ":::1" parse error during conversion from string: ParseAddr/);
    // ip_test.go: "parse invalid ipv4" and "parse invalid ipv6"
    expect(evaluationError('ip("192.168.0.1.0")').summary).toBe(
      'IP Address "192.168.0.1.0" parse error during conversion from string: ParseAddr("192.168.0.1.0"): IPv4 address too long',
    );
    expect(evaluationError('ip("2001:db8:::68")').summary).toBe(
      'IP Address "2001:db8:::68" parse error during conversion from string: ParseAddr("2001:db8:::68"): each colon-separated field must have at least one digit (at ":68")',
    );
  });

  it('rejects leading zeros, zones and IPv4-mapped IPv6 (ip.go: "Leading zeros ... are not allowed")', () => {
    expect(evaluationError("ip('010.0.0.1')").summary).toContain('IPv4 field has octet with leading zero');
    expect(evaluationError("ip('fe80::1%eth0')").summary).toBe('IP address "fe80::1%eth0" with zone value is not allowed');
    expect(evaluationError("ip('::ffff:1.2.3.4')").summary).toBe('IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed');
    expect(evaluationError("ip('')").summary).toBe(
      'IP Address "" parse error during conversion from string: ParseAddr(""): unable to parse IP',
    );
  });

  it('accepts an IPv4 address embedded in the last 32 bits of IPv6 (netip syntax)', () => {
    expect(String(run("ip('64:ff9b::192.0.2.33')"))).toBe('64:ff9b::c000:221');
    expect(evaluationError("ip('::1.2.3.4:5')").summary).toContain('unexpected character');
  });

  it('refuses non-string arguments at compile time and at run time', () => {
    expect(() => env.compile('ip(1)')).toThrow(CelError);
    expect(() => env.compile("isIP(cidr('192.168.0.0/24'))")).toThrow(CelError); // ip_test.go: compile error
    expect(evaluationError('ip(object.x)', { object: { x: 1n } }).summary).toMatch(/overload/i);
  });
});

describe('isIP() and ip.isCanonical()', () => {
  it('isIP tells valid from invalid addresses (ip.go: isIP examples)', () => {
    expect(run("isIP('127.0.0.1')")).toBe(true);
    expect(run("isIP('::1')")).toBe(true);
    expect(run("isIP('127.0.0.256')")).toBe(false);
    expect(run("isIP(':::1')")).toBe(false);
    expect(run("isIP('::ffff:1.2.3.4')")).toBe(false);
    expect(run("isIP('fe80::1%eth0')")).toBe(false);
  });

  it('ip.isCanonical compares with the canonical text (ip.go: ip.isCanonical examples)', () => {
    expect(run("ip.isCanonical('127.0.0.1')")).toBe(true);
    expect(run("ip.isCanonical('2001:db8::abcd')")).toBe(true);
    expect(run("ip.isCanonical('2001:DB8::ABCD')")).toBe(false);
    expect(run("ip.isCanonical('2001:db8::0:0:0:abcd')")).toBe(false);
  });

  it('ip.isCanonical follows RFC 5952 as netip prints it', () => {
    expect(run("ip.isCanonical('2001:db8:0:1:1:1:1:1')")).toBe(true); // a single zero group stays
    expect(run("ip.isCanonical('2001:db8::1:1:1:1:1')")).toBe(false);
    expect(run("ip.isCanonical('2001:0:0:1::1')")).toBe(true); // the longer run is compressed
    expect(run("ip.isCanonical('2001::1:0:0:1')")).toBe(true); // first of equal runs
  });

  it('ip.isCanonical fails on an invalid address (ip_test.go: "ip.isCanonical invalid ipv4")', () => {
    expect(evaluationError('ip.isCanonical("127.0.0.1.0")').summary).toBe(
      'IP Address "127.0.0.1.0" parse error during conversion from string: ParseAddr("127.0.0.1.0"): IPv4 address too long',
    );
  });
});

describe('net.IP methods', () => {
  it('family (ip.go examples)', () => {
    expect(run("ip('127.0.0.1').family()")).toBe(4n);
    expect(run("ip('::1').family()")).toBe(6n);
    expect(run("ip('127.0.0.1').family() == 4")).toBe(true);
    expect(run("ip('::1').family() == 6")).toBe(true);
  });

  it('isUnspecified and isLoopback (ip.go examples)', () => {
    expect(run("ip('0.0.0.0').isUnspecified()")).toBe(true);
    expect(run("ip('127.0.0.1').isUnspecified()")).toBe(false);
    expect(run("ip('::').isUnspecified()")).toBe(true);
    expect(run("ip('::1').isUnspecified()")).toBe(false);
    expect(run("ip('127.0.0.1').isLoopback()")).toBe(true);
    expect(run("ip('192.168.0.1').isLoopback()")).toBe(false);
    expect(run("ip('::1').isLoopback()")).toBe(true);
    expect(run("ip('2001:db8::abcd').isLoopback()")).toBe(false);
  });

  it('isLinkLocalMulticast and isLinkLocalUnicast (ip.go examples)', () => {
    expect(run("ip('224.0.0.1').isLinkLocalMulticast()")).toBe(true);
    expect(run("ip('224.0.1.1').isLinkLocalMulticast()")).toBe(false);
    expect(run("ip('ff02::1').isLinkLocalMulticast()")).toBe(true);
    expect(run("ip('fd00::1').isLinkLocalMulticast()")).toBe(false);
    expect(run("ip('169.254.169.254').isLinkLocalUnicast()")).toBe(true);
    expect(run("ip('192.168.0.1').isLinkLocalUnicast()")).toBe(false);
    expect(run("ip('fe80::1').isLinkLocalUnicast()")).toBe(true);
    expect(run("ip('fd80::1').isLinkLocalUnicast()")).toBe(false);
  });

  it('isGlobalUnicast (ip.go examples)', () => {
    expect(run("ip('192.168.0.1').isGlobalUnicast()")).toBe(true);
    expect(run("ip('255.255.255.255').isGlobalUnicast()")).toBe(false);
    expect(run("ip('2001:db8::abcd').isGlobalUnicast()")).toBe(true);
    expect(run("ip('ff00::1').isGlobalUnicast()")).toBe(false);
    expect(run("ip('0.0.0.0').isGlobalUnicast()")).toBe(false);
    expect(run("ip('fe80::1').isGlobalUnicast()")).toBe(false);
  });

  it('string() gives the canonical form (ip_test.go: "converting an IP address to a string")', () => {
    expect(run('string(ip("192.168.0.1"))')).toBe('192.168.0.1');
    expect(run("string(ip('2001:DB8:0:0:0::ABCD'))")).toBe('2001:db8::abcd');
  });

  it('compares addresses by value', () => {
    expect(run("ip('127.0.0.1') == ip('127.0.0.1')")).toBe(true);
    expect(run("ip('2001:db8::1') == ip('2001:DB8:0::1')")).toBe(true);
    expect(run("ip('127.0.0.1') != ip('127.0.0.2')")).toBe(true);
    expect(run("[ip('::1')] == [ip('::1')]")).toBe(true);
  });
});

describe('cidr()', () => {
  it('parses IPv4 and IPv6 prefixes (cidr.go: cidr examples)', () => {
    expect(String(run("cidr('192.168.0.0/16')"))).toBe('192.168.0.0/16');
    expect(String(run("cidr('::1/128')"))).toBe('::1/128');
  });

  it('keeps bits after the prefix, as netip.ParsePrefix does (cidr.go: ip() and masked() examples)', () => {
    expect(run("string(cidr('192.168.0.1/24'))")).toBe('192.168.0.1/24');
  });

  it('rejects out-of-range lengths and malformed prefixes (cidr.go: cidr("192.168.0.0/33") // error)', () => {
    expect(evaluationError("cidr('192.168.0.0/33')").summary).toBe(
      'network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("192.168.0.0/33"): prefix length out of range',
    );
    expect(evaluationError("cidr('::1/129')").summary).toContain('prefix length out of range');
    // cidr_test.go: "parse invalid ipv4"
    expect(evaluationError('cidr("192.168.0.0/")').summary).toBe(
      'network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("192.168.0.0/"): bad bits after slash: ""',
    );
    expect(evaluationError("cidr('192.168.0.0')").summary).toContain(`netip.ParsePrefix("192.168.0.0"): no '/'`);
    expect(evaluationError("cidr('192.168.0.0/016')").summary).toContain('bad bits after slash: "016"');
    expect(evaluationError("cidr('10.0.0.1.1/8')").summary).toContain(
      'netip.ParsePrefix("10.0.0.1.1/8"): ParseAddr("10.0.0.1.1"): IPv4 address too long',
    );
  });

  it('rejects IPv4-mapped IPv6 and zones (cidr.go: "IPv4-mapped IPv6 addresses ... are not allowed")', () => {
    expect(evaluationError("cidr('::ffff:1.2.3.4/120')").summary).toBe(
      'network address parse error during conversion from string: IPv4-mapped IPv6 address "::ffff:1.2.3.4/120" is not allowed',
    );
    expect(evaluationError("cidr('fe80::1%eth0/64')").summary).toContain('IPv6 zones cannot be present in a prefix');
  });

  it('isCIDR (cidr.go: isCIDR examples)', () => {
    expect(run("isCIDR('192.168.0.0/16')")).toBe(true);
    expect(run("isCIDR('::1/128')")).toBe(true);
    expect(run("isCIDR('192.168.0.0/33')")).toBe(false);
    expect(run("isCIDR('::1/129')")).toBe(false);
    expect(run("isCIDR('1.2.3.4')")).toBe(false);
  });
});

describe('net.CIDR methods', () => {
  it('containsIP with an IP or a string (cidr.go examples)', () => {
    expect(run("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))")).toBe(true);
    expect(run("cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))")).toBe(false);
    expect(run("cidr('192.168.0.0/24').containsIP('192.168.0.1')")).toBe(true);
    expect(run("cidr('192.168.0.0/24').containsIP('192.168.1.1')")).toBe(false);
    expect(run("cidr('2001:db8::/32').containsIP('2001:db8::1')")).toBe(true); // cidr_test.go
    expect(run("cidr('2001:db8::/32').containsIP(ip('2001:dc8::1'))")).toBe(false);
    expect(run("cidr('0.0.0.0/0').containsIP('::1')")).toBe(false); // other family
  });

  it('containsIP fails on an invalid address string', () => {
    expect(evaluationError("cidr('10.0.0.0/8').containsIP('10.0.0.256')").summary).toContain('IPv4 field has value >255');
  });

  it('containsCIDR with a CIDR or a string (cidr.go examples)', () => {
    expect(run("cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))")).toBe(true);
    expect(run("cidr('192.168.1.0/24').containsCIDR(cidr('192.168.2.0/24'))")).toBe(false);
    expect(run("cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')")).toBe(true);
    expect(run("cidr('192.168.1.0/24').containsCIDR('192.168.2.0/24')")).toBe(false);
    expect(run("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/23'))")).toBe(false); // cidr_test.go
    expect(run("cidr('2001:db8::/32').containsCIDR('2001:db8::/33')")).toBe(true);
  });

  it('containsCIDR compares masked addresses (kubernetes/kubernetes#130450)', () => {
    expect(run("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.1/32'))")).toBe(true);
    expect(run("cidr('192.168.0.0/16').containsCIDR('192.168.0.1/32')")).toBe(true);
    expect(run("cidr('192.168.0.0/24').containsCIDR(cidr('192.169.0.1/32'))")).toBe(false);
  });

  it('containsCIDR fails on an invalid prefix string', () => {
    expect(evaluationError("cidr('10.0.0.0/8').containsCIDR('10.0.0.0/40')").summary).toContain('prefix length out of range');
  });

  it('ip(), masked() and prefixLength() (cidr.go examples)', () => {
    expect(run("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')")).toBe(true);
    expect(run("cidr('192.168.0.1/24').ip().family()")).toBe(4n);
    expect(run("cidr('::1/128').ip() == ip('::1')")).toBe(true);
    expect(run("cidr('::1/128').ip().family()")).toBe(6n);
    expect(run("cidr('192.168.0.0/24').masked() == cidr('192.168.0.0/24')")).toBe(true);
    expect(run("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')")).toBe(true);
    expect(run("cidr('192.168.0.0/24') == cidr('192.168.0.0/24').masked()")).toBe(true);
    expect(run("cidr('192.168.0.1/24') == cidr('192.168.0.1/24').masked()")).toBe(false);
    expect(run("string(cidr('2001:db8:1::/32').masked())")).toBe('2001:db8::/32'); // cidr_test.go
    expect(run("cidr('192.168.0.0/16').prefixLength()")).toBe(16n);
    expect(run("cidr('::1/128').prefixLength()")).toBe(128n);
  });

  it('string() of a CIDR (cidr_test.go: "converting a CIDR to a string")', () => {
    expect(run('string(cidr("192.168.0.0/24"))')).toBe('192.168.0.0/24');
    expect(run("string(cidr('2001:DB8::/32'))")).toBe('2001:db8::/32');
  });

  it('works on values from the activation', () => {
    const object = { allowed: ['10.0.0.0/8', '192.168.0.0/16'], ip: '192.168.3.4' };
    expect(run('object.allowed.exists(c, cidr(c).containsIP(object.ip))', { object })).toBe(true);
  });
});

describe('type names as expressions', () => {
  // Kubernetes CEL IP library: `type(ip('127.0.0.1')) == net.IP` (and net.CIDR); the same
  // holds for the other dotted type names a library declares (kubernetes.Quantity, kubernetes.URL).
  it.each([
    ["type(ip('127.0.0.1')) == net.IP", true],
    ["type(cidr('10.0.0.0/8')) == net.CIDR", true],
    ["type(ip('127.0.0.1')) == net.CIDR", false],
    ["type(quantity('1Gi')) == kubernetes.Quantity", true],
    ["type(url('https://example.com')) == kubernetes.URL", true],
    ['type(1) == net.IP', false],
  ])('%s is %s', (expr, expected) => {
    expect(run(expr)).toBe(expected);
  });

  it('rejects a type name no library declares', () => {
    expect(() => run('net.Address')).toThrow(/Address/);
  });
});
