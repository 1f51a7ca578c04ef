// payment: charges an amount. Env: PORT.
//   POST /api/v1/pay {amount, orderId} → {paymentId, amount, caller}
// The caller is the SPIFFE ID the sidecar verified (x-forwarded-client-cert URI=...).
import { randomUUID } from 'node:crypto';
import { portFromEnv, readJson, sendJson, serve } from './http-kit.js';

const port = portFromEnv('PORT');

serve('payment', port, async (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/api/v1/pay') return sendJson(res, 404, { error: `no route ${path}` });
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' }, { allow: 'POST' });
  const body = await readJson(req, res);
  if (body === undefined) return;
  if (!Number.isInteger(body.amount) || body.amount <= 0) return sendJson(res, 400, { error: 'amount must be a positive integer (cents)' });
  const caller = /URI=([^;,]+)/.exec(String(req.headers['x-forwarded-client-cert'] ?? ''))?.[1] ?? 'unknown';
  sendJson(res, 200, { paymentId: randomUUID(), amount: body.amount, orderId: body.orderId ?? null, caller });
});
