// Picking a free block of ports on 127.0.0.1, and moving the checked-in YAML's ports to it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { CHECKED_IN_BASE, PORT_SPAN, allOffsets } from './topology.js';

const FIRST_BASE = 20000;
const LAST_BASE = 60000;

/**
 * The kernel's ephemeral range (outgoing connections take their local port from it): a listener
 * port in it can be taken by any client on the machine between our probe and our bind.
 */
function ephemeralRange() {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low, high };
  } catch {}
  return { low: 32768, high: 60999 }; // Linux's default
}

/** Bases from FIRST_BASE whose whole block lies outside the ephemeral range. */
function candidateBases() {
  const { low, high } = ephemeralRange();
  const bases = [];
  for (let base = FIRST_BASE; base + PORT_SPAN <= LAST_BASE; base += PORT_SPAN) {
    if (base + PORT_SPAN <= low || base > high) bases.push(base);
  }
  return bases;
}

function canBind(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A base whose ports (BASE + every offset of the topology) are all free now. Starts at a random
 * block so two demos started at once (a test and a user) rarely probe the same ports.
 */
export async function findFreeBase() {
  const bases = candidateBases();
  const start = Math.floor(Math.random() * bases.length);
  const offsets = allOffsets();
  for (let i = 0; i < Math.min(bases.length, 200); i++) {
    const base = bases[(start + i) % bases.length];
    let free = true;
    for (const offset of offsets) {
      if (!(await canBind(base + offset))) {
        free = false;
        break;
      }
    }
    if (free) return base;
  }
  throw new Error(`no free block of ${PORT_SPAN} ports between ${FIRST_BASE} and ${LAST_BASE} (outside the ephemeral range) on 127.0.0.1; pass --base PORT`);
}

/** Throws unless every port of the topology is free at `base` (for --base). */
export async function checkBase(base) {
  for (const offset of allOffsets()) {
    if (!(await canBind(base + offset))) throw new Error(`--base ${base}: port ${base + offset} on 127.0.0.1 is in use`);
  }
}

const CHECKED_IN_PORT = new RegExp(`\\b${String(CHECKED_IN_BASE).slice(0, 3)}([0-4][0-9])\\b`, 'g');

/**
 * The documented substitution: in the checked-in YAML every number 20000-20049 is a shop port,
 * written as 20000 + offset; it becomes `base` + offset. Nothing else in those files looks like that.
 */
export function shiftPorts(text, base) {
  return text.replace(CHECKED_IN_PORT, (_match, offset) => String(base + Number(offset)));
}
