// The load driver: plays the shop's users (through the ingress gateway, Host shop.example.com) and a few misbehaving callers (straight into a sidecar's outbound listener, as a
// compromised application would), at a fixed rate, open loop: requests are sent on schedule
// whether or not earlier ones have answered (up to MAX_IN_FLIGHT).
import { Agent, request } from 'undici';
import { request as httpRequest } from 'node:http';

const MAX_IN_FLIGHT = 512;
const TIMEOUT_MS = 15_000;

/** What each kind of call is, and what must come back. */
export const CALLS = {
  cart: { label: 'GET  /api/v1/cart', idempotent: true },
  'cart-beta': { label: 'GET  /api/v1/cart (x-user: beta)', idempotent: true },
  checkout: { label: 'POST /api/v1/checkout', idempotent: false },
  // Calls the policies must refuse. `expect` is the status (or 'closed' for a refused connection).
  'inventory-pays': { label: 'inventory → payment POST /api/v1/pay', expect: 403, attack: true },
  'shopping-reads-payment': { label: 'shopping → payment GET /api/v1/pay', expect: 403, attack: true },
  'inventory-calls-shopping': { label: 'inventory → shopping GET /api/v1/cart', expect: 403, attack: true },
  'shopping-writes-inventory': { label: 'shopping → inventory POST /api/v1/items', expect: 405, attack: true },
  'plaintext-payment': { label: 'no mTLS → payment sidecar POST /api/v1/pay', expect: 'closed', attack: true },
};

const ATTACKS = Object.keys(CALLS).filter((kind) => CALLS[kind].attack);

/** The mix: 68% cart, 10% beta cart, 14% checkout, 8% refused calls. */
/**
 * Every 12th call is a forbidden one, the kinds taken in turn (so even a short run tries each);
 * the user calls in between are 74% cart, 11% cart as a beta user, 15% checkout.
 */
function pickKind(i, r) {
  if (i % 12 === 11) return ATTACKS[Math.floor(i / 12) % ATTACKS.length];
  if (r < 0.74) return 'cart';
  if (r < 0.85) return 'cart-beta';
  return 'checkout';
}

export class TrafficDriver {
  constructor({ ingressUrl, shopHost, shoppingOutbound, inventoryOutbound, paymentInbound, rate, durationMs }) {
    this.targets = { ingressUrl, shopHost, shoppingOutbound, inventoryOutbound, paymentInbound };
    this.rate = rate;
    this.durationMs = durationMs;
    this.agent = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
    this.inFlight = 0;
    this.sent = 0;
    /** kind → {sent, ok, failed, statuses: Map, sample: first unexpected answer, answer: first expected refusal, allowed: forbidden calls let through} */
    this.results = new Map(Object.keys(CALLS).map((k) => [k, { sent: 0, ok: 0, failed: 0, statuses: new Map(), sample: undefined, answer: undefined, allowed: 0 }]));
    /** Milliseconds of every user call (cart, beta cart, checkout). */
    this.latencies = [];
    /** Versions of inventory that answered user calls, by kind. */
    this.versions = new Map();
    this.behind = 0;
  }

  /** Runs for durationMs; `onTick(elapsedMs)` is called every ~100 ms. Resolves when every call has answered. */
  async run(onTick) {
    const start = performance.now();
    let lastTick = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const due = Math.floor((Math.min(elapsed, this.durationMs) / 1000) * this.rate);
        while (this.sent < due && this.inFlight < MAX_IN_FLIGHT) this.#send(this.sent++);
        if (this.sent < due) this.behind = due - this.sent;
        if (elapsed - lastTick >= 100) {
          lastTick = elapsed;
          onTick?.(Math.min(elapsed, this.durationMs));
        }
        if (elapsed >= this.durationMs && this.sent >= due) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const drainUntil = Date.now() + TIMEOUT_MS + 1_000;
    while (this.inFlight > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  }

  async close() {
    await this.agent.close();
  }

  /** Idempotent user calls that did not get a 200. */
  lostIdempotent() {
    let lost = 0;
    for (const [kind, r] of this.results) if (CALLS[kind].idempotent) lost += r.failed;
    return lost;
  }

  /** Forbidden calls that were let through (answered below 400). */
  wronglyAllowed() {
    let n = 0;
    for (const [kind, r] of this.results) if (CALLS[kind].attack) n += r.allowed;
    return n;
  }

  #send(i) {
    const kind = pickKind(i, Math.random());
    const result = this.results.get(kind);
    result.sent++;
    this.inFlight++;
    const started = performance.now();
    this.#call(kind, i)
      .then(({ status, body }) => {
        result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
        const call = CALLS[kind];
        const ok = call.attack ? status === call.expect : status === 200;
        if (ok) result.ok++;
        else {
          result.failed++;
          result.sample ??= `${status} ${(typeof body === 'string' ? body : JSON.stringify(body)).trim().slice(0, 300)}`;
        }
        if (call.attack && ok) result.answer ??= String(body).trim().slice(0, 80);
        // A forbidden call that got through to the application (anything else is an error, not a breach).
        if (call.attack && typeof status === 'number' && status < 400) result.allowed++;
        if (!call.attack) {
          this.latencies.push(performance.now() - started);
          const version = typeof body === 'object' ? body?.inventory?.version : undefined;
          if (version) {
            const byVersion = this.versions.get(kind) ?? new Map();
            byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
            this.versions.set(kind, byVersion);
          }
        }
      })
      .finally(() => this.inFlight--);
  }

  /** One call; never rejects: a transport error is status 'error' (or 'closed' for a refused connection). */
  async #call(kind, i) {
    const { ingressUrl, shopHost, shoppingOutbound, inventoryOutbound } = this.targets;
    try {
      switch (kind) {
        case 'cart':
          return await this.#http(`${ingressUrl}/api/v1/cart`, 'GET', { host: shopHost });
        case 'cart-beta':
          return await this.#http(`${ingressUrl}/api/v1/cart`, 'GET', { host: shopHost, 'x-user': 'beta' });
        case 'checkout':
          return await this.#http(`${ingressUrl}/api/v1/checkout`, 'POST', { host: shopHost, 'content-type': 'application/json' }, JSON.stringify({ orderId: `order-${i}` }));
        case 'inventory-calls-shopping':
          return await this.#http(`${inventoryOutbound}/api/v1/cart`, 'GET', { host: 'shopping.shop.svc.cluster.local' });
        case 'inventory-pays':
          return await this.#http(`${inventoryOutbound}/api/v1/pay`, 'POST', { host: 'payment.shop.svc.cluster.local', 'content-type': 'application/json' }, '{"amount":100000}');
        case 'shopping-reads-payment':
          return await this.#http(`${shoppingOutbound}/api/v1/pay`, 'GET', { host: 'payment.shop.svc.cluster.local' });
        case 'shopping-writes-inventory':
          return await this.#http(`${shoppingOutbound}/api/v1/items`, 'POST', { host: 'inventory.shop.svc.cluster.local', 'content-type': 'application/json' }, '{"id":"free-lunch","price":0}');
        case 'plaintext-payment':
          return await this.#plaintext();
        default:
          throw new Error(`unknown call kind ${kind}`);
      }
    } catch (error) {
      return { status: 'error', body: error.code ?? error.message };
    }
  }

  async #http(url, method, headers, body) {
    const response = await request(url, { method, headers, body, dispatcher: this.agent, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    const text = await response.body.text();
    let parsed = text;
    if ((response.headers['content-type'] ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {}
    }
    return { status: response.statusCode, body: parsed };
  }

  /** Plain HTTP straight to payment's sidecar: PeerAuthentication STRICT closes the connection. */
  #plaintext() {
    return new Promise((resolve) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: this.targets.paymentInbound, path: '/api/v1/pay', method: 'POST', headers: { host: 'payment.shop.svc.cluster.local', 'content-type': 'application/json' }, timeout: TIMEOUT_MS, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, body: '' }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve({ status: error.code === 'ECONNRESET' || /socket hang up/.test(error.message) ? 'closed' : 'error', body: error.code ?? error.message }));
      req.end('{"amount":100000}');
    });
  }
}

/** Nearest-rank percentile of `values` (milliseconds). */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
