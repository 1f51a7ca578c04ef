// inventory: the shop's stock, read-only over HTTP. Env: PORT, VERSION (v1, v2), INSTANCE.
//   GET /api/v1/items      → {version, instance, items}
//   GET /api/v1/items/ID   → one item, or 404
//   GET /healthz           → 200 (the shopping sidecar's active health check)
import { portFromEnv, sendJson, serve } from './http-kit.js';

const port = portFromEnv('PORT');
const version = process.env.VERSION ?? 'v1';
const instance = process.env.INSTANCE ?? `inventory-${version}`;

// v2 is the new catalogue: same items, plus how many are left.
const ITEMS = [
  { id: 'apple', name: 'Apple', price: 30 },
  { id: 'bread', name: 'Bread', price: 250 },
  { id: 'cheese', name: 'Cheese', price: 480 },
];
const items = version === 'v2' ? ITEMS.map((item, i) => ({ ...item, stock: 10 * (i + 1) })) : ITEMS;

serve('inventory', port, (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'read-only' }, { allow: 'GET, HEAD' });
  if (path === '/healthz') return sendJson(res, 200, { ok: true, version, instance });
  if (path === '/api/v1/items') return sendJson(res, 200, { version, instance, items });
  const one = /^\/api\/v1\/items\/([a-z]+)$/.exec(path);
  if (one) {
    const item = items.find((i) => i.id === one[1]);
    return item ? sendJson(res, 200, { version, instance, item }) : sendJson(res, 404, { error: `no item ${one[1]}` });
  }
  sendJson(res, 404, { error: `no route ${path}` });
});
