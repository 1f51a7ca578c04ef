/**
 * cel-go's encoders extension: `base64.encode(bytes)` and `base64.decode(string)`.
 *
 * Decoding follows cel-go, which tries Go's padded standard encoding and then the
 * unpadded one: the standard alphabet only (no URL-safe characters), padding either
 * complete or absent, and CR/LF ignored as Go ignores them. Node's own decoder accepts
 * far more (and silently drops bad characters), so input is validated here first.
 */
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import type { CelLibrary } from '../library.js';

function encode(bytes: Uint8Array): string {
  charge(bytes.length);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Go reports the offset of the first bad byte; mirror that in the message. */
function illegal(offset: number): CelFunctionError {
  return new CelFunctionError(`illegal base64 data at input byte ${offset}`, 'invalid_argument');
}

/** The data characters of `text`, or an error when it is neither padded nor unpadded base64. */
function dataCharacters(text: string): string {
  const padding = /=*$/.exec(text)![0].length;
  const data = text.slice(0, text.length - padding);
  const badChar = data.search(/[^A-Za-z0-9+/]/);
  if (badChar >= 0) throw illegal(badChar);
  const remainder = data.length % 4;
  if (remainder === 1) throw illegal(data.length - 1);
  const paddingNeeded = remainder === 0 ? 0 : 4 - remainder;
  // Unpadded input is fine (RawStdEncoding); padded input must be padded exactly.
  if (padding !== 0 && padding !== paddingNeeded) throw illegal(data.length + Math.min(padding, paddingNeeded));
  return data;
}

function decode(text: string): Uint8Array {
  charge(text.length);
  const data = dataCharacters(text.replace(/[\r\n]/g, ''));
  return new Uint8Array(Buffer.from(data, 'base64'));
}

export const encodersLibrary: CelLibrary = {
  name: 'encoders',
  register(r) {
    r.namespace('base64');
    r.fn('base64.encode(bytes): string', encode);
    r.fn('base64.decode(string): bytes', decode);
  },
};
