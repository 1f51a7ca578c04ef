/**
 * A fast, allocation-free 32-bit string hash for consistent hashing: FNV-1a over the UTF-16 code
 * units, then MurmurHash3's 32-bit finaliser so that nearby inputs (`10.0.0.1:80_0`, `..._1`) land far
 * apart on the ring. Written by hand because node:crypto allocates a Hash object and a Buffer per call:
 * measured on Node 20 over 200,000 keys like `session-123-abcdef`, about 0.1 µs per key here against
 * about 2 µs for createHash('md5'), and the hot path hashes one key per request. 32 bits suffice: a
 * ring holds at most 8M points.
 */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
