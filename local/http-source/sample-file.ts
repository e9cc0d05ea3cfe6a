/**
 * Random sample files for the local HTTP source to serve (bench:copy, the copy acceptance tests): written in
 * 16 MiB chunks (constant memory, any size), returning the CRC-64 of what was written so a copy can be verified.
 */
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { crc64 } from '../../shared/crc64/index.ts';

const CHUNK = 16 * 1024 * 1024;

/** Streams `size` random bytes to `file` and returns their CRC-64. */
export async function writeRandomFile(file: string, size: number): Promise<bigint> {
  const ws = createWriteStream(file, { highWaterMark: CHUNK });
  let crc = 0n;
  for (let left = size; left > 0; ) {
    const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(left, CHUNK)));
    crc = crc64(chunk, crc);
    if (!ws.write(chunk)) await once(ws, 'drain');
    left -= chunk.length;
  }
  ws.end();
  await once(ws, 'finish');
  return crc;
}
