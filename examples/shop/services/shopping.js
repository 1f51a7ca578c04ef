// shopping: the shop's front end. Env: PORT, SIDECAR (its sidecar's outbound listener, e.g.
// http://127.0.0.1:20002). Every call to another service goes to the sidecar with the
// service's name in the Host header, the way an application uses a sidecar when no iptables
// rule redirects its traffic; the sidecar routes, retries and speaks mTLS.
//   GET  /api/v1/cart      → inventory GET /api/v1/items (x-user is passed on: beta users get v2)
//   POST /api/v1/checkout  → inventory GET /api/v1/items, then payment POST /api/v1/pay
import { Agent, request } from 'undici';
import { portFromEnv, readJson, sendJson, serve } from './http-kit.js';

const port = portFromEnv('PORT');
const sidecar = process.env.SIDECAR;
if (!sidecar || !/^http:\/\/127\.0\.0\.1:\d+$/.test(sidecar)) {
  console.error(`SIDECAR must be the sidecar's outbound listener as http://127.0.0.1:PORT, found '${sidecar ?? ''}'`);
  process.exit(2);
}
const INVENTORY = 'inventory.shop.svc.cluster.local';
const PAYMENT = 'payment.shop.svc.cluster.local';
const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });

/** One call through the sidecar; resolves {status, body} (body parsed when JSON). */
async function call(host, method, path, { headers = {}, body } = {}) {
  const response = await request(`${sidecar}${path}`, {
    method,
    dispatcher: agent,
    headers: { host, ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headersTimeout: 8_000,
    bodyTimeout: 8_000,
  });
  const text = await response.body.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.statusCode, body: parsed };
}

/** The headers a request passes on: the user (for routing) and the trace (for one trace per request). */
function propagated(req) {
  const out = {};
  for (const name of ['x-user', 'x-request-id', 'traceparent']) if (typeof req.headers[name] === 'string') out[name] = req.headers[name];
  return out;
}

serve('shopping', port, async (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const headers = propagated(req);
  if (path === '/api/v1/cart' && req.method === 'GET') {
    const stock = await call(INVENTORY, 'GET', '/api/v1/items', { headers });
    if (stock.status !== 200) return sendJson(res, 502, { error: 'inventory failed', inventory: stock });
    return sendJson(res, 200, { items: stock.body.items, inventory: { version: stock.body.version, instance: stock.body.instance } });
  }
  if (path === '/api/v1/checkout' && req.method === 'POST') {
    const order = await readJson(req, res);
    if (order === undefined) return;
    const stock = await call(INVENTORY, 'GET', '/api/v1/items', { headers });
    if (stock.status !== 200) return sendJson(res, 502, { error: 'inventory failed', inventory: stock });
    const amount = stock.body.items.reduce((sum, item) => sum + item.price, 0);
    const paid = await call(PAYMENT, 'POST', '/api/v1/pay', { headers, body: { amount, orderId: order.orderId ?? null } });
    if (paid.status !== 200) return sendJson(res, 502, { error: 'payment failed', payment: paid });
    return sendJson(res, 200, { paid: paid.body, inventory: { version: stock.body.version, instance: stock.body.instance } });
  }
  sendJson(res, 404, { error: `no route ${req.method} ${path}` });
});
