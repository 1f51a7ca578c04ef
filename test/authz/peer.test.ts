import { namespaceOfPrincipal, parseForwardedClientCert, spiffeUriSan } from '../../src/authz/peer.js';

describe('x-forwarded-client-cert', () => {
  // Envoy docs (x-forwarded-client-cert): elements are comma-separated, key=value pairs are
  // semicolon-separated, values containing , ; or = are double-quoted; By is the current
  // proxy's URI SAN and URI the client certificate's URI SAN.
  it('reads URI (client) and By (proxy) from the last element', () => {
    const header =
      'By=spiffe://cluster.local/ns/a/sa/x;URI=spiffe://cluster.local/ns/z/sa/old,' +
      'By=spiffe://cluster.local/ns/shop/sa/payment;Hash=abc;Subject="CN=frontend,O=shop";URI=spiffe://cluster.local/ns/shop/sa/frontend';
    expect(parseForwardedClientCert(header)).toEqual({
      uri: 'spiffe://cluster.local/ns/shop/sa/frontend',
      by: 'spiffe://cluster.local/ns/shop/sa/payment',
    });
  });

  it('handles escaped quotes and rejects unterminated quotes', () => {
    expect(parseForwardedClientCert('Subject="a\\"b;c";URI=spiffe://td/ns/n/sa/s')).toEqual({ uri: 'spiffe://td/ns/n/sa/s', by: undefined });
    expect(parseForwardedClientCert('URI="spiffe://td')).toBeUndefined();
    expect(parseForwardedClientCert('garbage')).toBeUndefined();
    expect(parseForwardedClientCert(undefined)).toBeUndefined();
  });

  it('finds the SPIFFE URI SAN and its namespace', () => {
    expect(spiffeUriSan('DNS:a.example, URI:https://x, URI:spiffe://td/ns/shop/sa/web')).toBe('spiffe://td/ns/shop/sa/web');
    expect(spiffeUriSan('DNS:a.example')).toBeUndefined();
    expect(namespaceOfPrincipal('spiffe://td/ns/shop/sa/web')).toBe('shop');
    expect(namespaceOfPrincipal('spiffe://td/other')).toBeUndefined();
  });
});
