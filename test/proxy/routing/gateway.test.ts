import { compileYaml } from './helpers.js';

describe('Gateway', () => {
  it('compiles selector, servers, hosts with namespace prefixes and TLS settings', async () => {
    // Istio (Server.hosts): hosts may carry a "namespace/" prefix ("./" for the Gateway's namespace, "*/" for any).
    const { routing, messages } = await compileYaml(`
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: shop-gateway
  namespace: istio-system
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop/*.example.com", "./www.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*/shop.example.com"]
    tls:
      mode: MUTUAL
      serverCertificate: /certs/server.pem
      privateKey: /certs/server.key
      caCertificates: /certs/ca.pem
      subjectAltNames: [spiffe://cluster.local/ns/shop/sa/client]
      minProtocolVersion: TLSV1_2
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: AUTO_PASSTHROUGH}
`);
    expect(messages).toEqual([]);
    const gw = routing.gateways.get('istio-system/shop-gateway')!;
    expect(gw.selector).toEqual({ istio: 'ingressgateway' });
    expect(gw.servers.map((s) => s.port)).toEqual([
      { number: 80, name: 'http', protocol: 'HTTP' },
      { number: 443, name: 'https', protocol: 'HTTPS' },
      { number: 15443, name: 'tls', protocol: 'TLS' },
    ]);
    expect(gw.servers[0]!.hosts).toEqual(['shop/*.example.com', './www.example.com']);
    // ServerTLSSettings.mode's zero value is PASSTHROUGH.
    expect(gw.servers[0]!.tls).toEqual({ mode: 'PASSTHROUGH', httpsRedirect: true });
    expect(gw.servers[1]!.tls).toEqual({
      mode: 'MUTUAL',
      serverCertificate: '/certs/server.pem',
      privateKey: '/certs/server.key',
      caCertificates: '/certs/ca.pem',
      subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/client'],
      minProtocolVersion: 'TLSV1_2',
    });
    expect(gw.servers[2]!.tls?.mode).toBe('AUTO_PASSTHROUGH');
    expect(routing.gateways.get('shop/shop-gateway')).toBeUndefined();
    expect(JSON.parse(JSON.stringify(routing.gateways.dump())).gateways[0].name).toBe('shop-gateway');
  });

  it('requires tls on HTTPS servers and a CA for MUTUAL', async () => {
    const { messages } = await compileYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
  - port: {number: 8443, name: mtls, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: MUTUAL, serverCertificate: /c, privateKey: /k}
`);
    expect(messages).toEqual([
      'mesh.yaml:7:5: Gateway edge/gw: spec.servers[0].tls: a HTTPS server needs tls settings (spec.servers[0].tls)',
      'mesh.yaml:11:10: Gateway edge/gw: spec.servers[1].tls.caCertificates: mode MUTUAL needs caCertificates to verify clients (spec.servers[1].tls.caCertificates)',
    ]);
  });
});
