import type { AnyValueMessage, Int64, KeyValueMessage } from './schema.js';

/** JSON of an AnyValue; an unset one is null. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Thrown by the conversions when a value nests deeper than allowed; the record is rejected, not the request. */
export class TooDeep extends Error {}

/**
 * An AnyValue as JSON: strings, booleans and doubles as they are (NaN and
 * ±Infinity, which JSON lacks, as the strings "NaN", "Infinity",
 * "-Infinity"); an int64 as a number when it is a safe integer, else as its
 * decimal string; bytes as base64; arrays as arrays; key-value lists as
 * objects (the last of repeated keys wins). `depth` levels of arrays and
 * objects at most: deeper throws TooDeep before converting further, so the
 * work stays linear in the value's size.
 */
export function toJson(v: AnyValueMessage | null | undefined, depth: number): JsonValue {
  if (!v) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue!;
    case 'boolValue':
      return v.boolValue!;
    case 'intValue':
      return int64ToJson(v.intValue!);
    case 'doubleValue':
      return Number.isFinite(v.doubleValue) ? v.doubleValue! : String(v.doubleValue);
    case 'bytesValue':
      return Buffer.from(v.bytesValue!.buffer, v.bytesValue!.byteOffset, v.bytesValue!.byteLength).toString('base64');
    case 'arrayValue': {
      if (depth <= 0) throw new TooDeep();
      const values = v.arrayValue?.values ?? [];
      const out: JsonValue[] = new Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = toJson(values[i], depth - 1);
      return out;
    }
    case 'kvlistValue':
      if (depth <= 0) throw new TooDeep();
      return attributesToJson(v.kvlistValue?.values ?? [], depth - 1);
    default:
      return null;
  }
}

/**
 * Key-value pairs (attributes, a kvlist) as one object. `__proto__` is
 * defined as an own key like any other, never assigned (which would set the
 * object's prototype); a plain object, not one without a prototype, which V8
 * keeps in slower dictionary mode.
 */
export function attributesToJson(pairs: readonly KeyValueMessage[], depth: number): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const kv of pairs) {
    const value = toJson(kv.value, depth);
    if (kv.key === '__proto__') Object.defineProperty(out, kv.key, { value, enumerable: true, writable: true, configurable: true });
    else out[kv.key] = value;
  }
  return out;
}

/** A string, number or boolean attribute as text (e.g. for a column); undefined otherwise. */
export function scalarText(v: AnyValueMessage | null | undefined): string | undefined {
  switch (v?.value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return String(v.boolValue);
    case 'intValue':
      return String(int64ToJson(v.intValue!));
    case 'doubleValue':
      return String(v.doubleValue);
    default:
      return undefined;
  }
}

function int64ToJson(n: Int64): number | string {
  if (typeof n === 'number') return n;
  // exact below 2^53; beyond, toNumber is not a safe integer and the decimal string keeps every digit
  const approx = n.toNumber();
  return Number.isSafeInteger(approx) ? approx : n.toString();
}

/** Nanoseconds since the epoch (an unsigned 64-bit field) as a BigInt; 0n when unset. */
export function nanos(n: Int64): bigint {
  if (typeof n === 'number') return BigInt(Math.max(0, Math.trunc(n)));
  return (BigInt(n.high >>> 0) << 32n) | BigInt(n.low >>> 0);
}

/** Nanoseconds since the epoch as ISO 8601 UTC with microseconds (what a timestamptz keeps). */
export function isoMicros(ns: bigint): string {
  const micros = ns / 1000n;
  const ms = Number(micros / 1000n);
  const frac = Number(micros % 1000n);
  // the records of a batch mostly share their millisecond: format it once
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString().slice(0, 23);
  }
  return `${lastIso}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}
let lastMs = Number.NaN;
let lastIso = '';
