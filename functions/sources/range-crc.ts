/**
 * The CRC-64 of a source range read again at the job's version: how a part whose receipt was lost is proven on
 * resume, and how `unpinned: reread` proves each part after upload (a source without a strong validator that
 * changed in between answers with other bytes, so the CRCs differ).
 */
import { crc64 } from '../../shared/crc64/index.ts';
import { SourceChangedError, type RangeSource, type SourceIdentity } from './types.ts';

export async function rangeCrc64(source: RangeSource, start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<bigint> {
  const body = await source.read(start, end, pin, signal);
  let crc = 0n;
  for await (const chunk of body as AsyncIterable<Buffer>) crc = crc64(chunk, crc);
  return crc;
}

/** Reads [start, end) again and fails with SourceChangedError when its CRC-64 is not `expected`. */
export async function rereadMatches(source: RangeSource, start: number, end: number, pin: SourceIdentity, expected: bigint, what: string, signal?: AbortSignal): Promise<void> {
  const again = await rangeCrc64(source, start, end, pin, signal);
  if (again !== expected) {
    throw new SourceChangedError(`${source.displayUrl}: ${what} [${start}, ${end}) read again has CRC-64 ${again}, uploaded ${expected}: the source changed during the copy (unpinned: reread)`);
  }
}
