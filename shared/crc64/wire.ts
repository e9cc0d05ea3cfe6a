/**
 * CRC-64 values on the wire: OSS sends `x-oss-hash-crc64ecma` as an unsigned decimal string
 * (OSS docs: CRC-64 data integrity check). In memory they are bigint (docs/CONVENTIONS.md "Values").
 * This module must stay free of the native addon: infra imports shared/ and must not load native code.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';

const MAX = 0xffffffffffffffffn;
const DIGITS = /^[0-9]{1,20}$/;

/** bigint → unsigned decimal string, as OSS sends it. */
export function crc64ToWire(v: bigint): string {
  if (typeof v !== 'bigint') throw new TypeError(`crc64ToWire: v must be a bigint, got ${typeof v}`);
  if (v < 0n || v > MAX) throw new RangeError(`crc64ToWire: v must be in [0, 2^64-1], got ${v}`);
  return v.toString(10);
}

/** Strict parse: ASCII digits only (no sign, space, hex or exponent), value ≤ 2^64−1. */
export function crc64FromWire(s: string, field = 'crc64'): bigint {
  if (typeof s !== 'string') {
    throw new InvalidInputError(field, `expected a decimal string, got ${typeof s}`, 'send the CRC-64 as an unsigned decimal string, e.g. "11051210869376104954"');
  }
  if (!DIGITS.test(s)) {
    throw new InvalidInputError(field, `not an unsigned decimal CRC-64: ${JSON.stringify(s.slice(0, 40))}`, 'send only the digits 0-9 (at most 20), as in the x-oss-hash-crc64ecma header');
  }
  const v = BigInt(s);
  if (v > MAX) throw new InvalidInputError(field, `${s} exceeds 2^64-1`, 'send a CRC-64 value between 0 and 18446744073709551615');
  return v;
}

/** zod schema: decimal string on the wire → bigint in memory. */
export const crc64Wire = z.string().transform((s, ctx): bigint => {
  try {
    return crc64FromWire(s, 'crc64');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** zod schema for the reverse direction (bigint in memory → decimal string), for outgoing JSON. */
export const crc64ToWireSchema = z.bigint().min(0n).max(MAX).transform((v) => v.toString(10));
