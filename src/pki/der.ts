/**
 * DER building blocks for X.509, on top of node-forge's ASN.1 encoder.
 *
 * Why this split: node-forge's certificate object (pki.createCertificate) only understands RSA
 * keys — it throws "OID is not RSA" for EC keys, and cannot sign with ECDSA. We want EC P-256 by
 * default, so node-forge is used for what it does well (ASN.1/DER encoding of the TBSCertificate,
 * names and extensions), node:crypto generates the keys and signs the TBS bytes (ECDSA or RSA
 * PKCS#1 v1.5 over SHA-256), and node:crypto's X509Certificate parses and verifies the result.
 */
import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import forgeUtil from 'node-forge/lib/util.js';

export type Asn1 = forge.asn1.Asn1;

/** Binary strings are node-forge's byte representation. */
export function toBinary(buffer: Buffer): string {
  return buffer.toString('binary');
}

export function fromBinary(bytes: string): Buffer {
  return Buffer.from(bytes, 'binary');
}

export function sequence(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

export function set(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
}

export function oid(id: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
}

export function boolean(value: boolean): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, value ? '\xff' : '\x00');
}

export function nullValue(): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
}

export function smallInteger(value: number): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
}

/** A non-negative integer from big-endian magnitude bytes, in minimal DER two's complement. */
export function unsignedInteger(magnitude: Buffer): Asn1 {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let bytes = magnitude.subarray(start);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, toBinary(bytes));
}

export function octetString(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, toBinary(bytes));
}

export function bitString(bytes: Buffer, unusedBits = 0): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unusedBits) + toBinary(bytes));
}

export function utf8String(text: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forgeUtil.encodeUtf8(text));
}

/** `[n] EXPLICIT` wrapper. */
export function explicit(tag: number, inner: Asn1): Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, [inner]);
}

/** `[n] IMPLICIT` primitive (GeneralName alternatives, keyIdentifier). */
export function implicitPrimitive(tag: number, bytes: string): Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bytes);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. Second precision. */
export function time(date: Date): Asn1 {
  const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(whole))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(whole));
}

export function encode(node: Asn1): Buffer {
  return fromBinary(asn1.toDer(node).getBytes());
}

/** Strict DER decode; BIT STRING contents stay bytes (forge would otherwise try to parse them as ASN.1). */
export function decode(der: Buffer): Asn1 {
  const fromDer = asn1.fromDer as unknown as (bytes: string, options: { strict: boolean; decodeBitStrings: boolean }) => Asn1;
  return fromDer(toBinary(der), { strict: true, decodeBitStrings: false });
}

export function readOid(node: Asn1): string {
  return asn1.derToOid(node.value as string);
}

export function children(node: Asn1): Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

export const Class = asn1.Class;
export const Type = asn1.Type;
