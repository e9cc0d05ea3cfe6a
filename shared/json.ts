/**
 * JSON with bigint values: CRC-64s are bigint in memory and unsigned decimal strings on the wire
 * (docs/CONVENTIONS.md "Values"); JSON.stringify cannot serialise bigint without this replacer.
 * No imports: the function runtime server loads it at start.
 */

/** JSON.stringify replacer writing every bigint as its decimal string. */
export function bigintAsDecimal(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString(10) : value;
}

/** A JSON-safe deep copy of `value` (bigint → decimal string), as it would read back from its JSON. */
export function toJsonValue(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, bigintAsDecimal)) as Record<string, unknown>;
}
