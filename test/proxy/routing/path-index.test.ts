import { compileYaml, request } from './helpers.js';

// The route table indexes each VirtualService's http routes by the path's first segment. Istio
// (VirtualService.http): "The first rule matching an incoming request is used." The index may only
// skip routes that cannot match, so these cases mix routes the index can place (exact, prefixes
// that contain the segment's closing slash) with routes it cannot (short prefixes, regex,
// ignoreUriCase, no uri, no match at all) and check that the first matching route still wins.
const mesh = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: paths, namespace: shop}
spec:
  hosts: [paths]
  http:
  - name: exact-api
    match: [{uri: {exact: /api}}]
    route: [{destination: {host: exact-api}}]
  - name: api-v2
    match: [{uri: {prefix: /api/v2/}}, {uri: {exact: /v2}}]
    route: [{destination: {host: api-v2}}]
  - name: short-prefix
    match: [{uri: {prefix: /ap}}]
    route: [{destination: {host: short-prefix}}]
  - name: api-any
    match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: api-any}}]
  - name: regex
    match: [{uri: {regex: "/reg[a-z]+/.*"}}]
    route: [{destination: {host: regex}}]
  - name: caseless
    match: [{uri: {prefix: /Shop/, }, ignoreUriCase: true}]
    route: [{destination: {host: caseless}}]
  - name: shop
    match: [{uri: {prefix: /shop/}}]
    route: [{destination: {host: shop}}]
  - name: get-only
    match: [{method: {exact: GET}}]
    route: [{destination: {host: get-only}}]
  - name: rest
    route: [{destination: {host: rest}}]
`;

describe('route table path index', () => {
  it('keeps first-match-wins across indexed and unindexed routes', async () => {
    const { routing, messages } = await compileYaml(mesh);
    expect(messages).toEqual([]);
    const routeFor = (path: string, method = 'GET') => routing.routes.route(request({ authority: 'paths', path, method }))?.route.name;
    expect(routeFor('/api')).toBe('shop/paths/exact-api');
    expect(routeFor('/api/v2/items')).toBe('shop/paths/api-v2');
    expect(routeFor('/v2')).toBe('shop/paths/api-v2');
    expect(routeFor('/v2/more')).toBe('shop/paths/get-only');
    // `/ap` is a plain string prefix: it covers `/api/v1` before the later `/api/` route.
    expect(routeFor('/api/v1')).toBe('shop/paths/short-prefix');
    expect(routeFor('/apple')).toBe('shop/paths/short-prefix');
    expect(routeFor('/regex/x')).toBe('shop/paths/regex');
    expect(routeFor('/SHOP/cart')).toBe('shop/paths/caseless');
    expect(routeFor('/shop/cart')).toBe('shop/paths/caseless');
    expect(routeFor('/shop/cart', 'POST')).toBe('shop/paths/caseless');
    expect(routeFor('/other', 'POST')).toBe('shop/paths/rest');
    expect(routeFor('/', 'DELETE')).toBe('shop/paths/rest');
    expect(routeFor('/api/v2/x', 'POST')).toBe('shop/paths/api-v2');
  });

  it('answers the same for a host seen before (the host lookup cache)', async () => {
    const { routing } = await compileYaml(mesh);
    for (let i = 0; i < 3; i++) {
      expect(routing.routes.route(request({ authority: 'paths:80', path: '/shop/x' }))?.route.name).toBe('shop/paths/caseless');
      expect(routing.routes.route(request({ authority: 'unknown', path: '/shop/x' }))).toBeUndefined();
    }
  });
});
