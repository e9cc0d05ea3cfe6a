/**
 * Acceptance: a 5 GiB multipart object written with the unmodified ali-oss client and read back by ranges,
 * against the local OSS running in a child process whose RSS stays under 200 MB throughout.
 * Data is generated on the fly (never held whole in memory) and the temp data dir is removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64, crc64Combine } from '../../../shared/crc64/index.ts';
import { crc64ToWire } from '../../../shared/crc64/wire.ts';
import type { Client } from './helpers.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const TOTAL = 5 * GiB;
const PART = 64 * MiB;
const CHUNK = MiB;
const PARALLEL = 4;
const RSS_LIMIT = 200 * 1000 * 1000;

/** One random MiB, stamped per chunk so no two chunks are equal. */
const BLOCK = randomBytes(CHUNK);
function chunkAt(index: number): Buffer {
  const b = Buffer.from(BLOCK);
  b.writeUInt32LE(index, 0);
  b.writeUInt32LE(index ^ 0x5a5a5a5a, CHUNK - 4);
  return b;
}

function partStream(partIndex: number, size: number, onCrc: (crc: bigint) => void): Readable {
  const first = (partIndex * PART) / CHUNK;
  const count = size / CHUNK;
  let i = 0;
  let crc = 0n;
  return new Readable({
    read() {
      if (i === count) {
        onCrc(crc);
        this.push(null);
        return;
      }
      const c = chunkAt(first + i++);
      crc = crc64(c, crc);
      this.push(c);
    },
  });
}

async function rssOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

let child: ChildProcess;
let dataDir: string;
let c: Client;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-oss-5g-'));
  // Default V8 flags: the server frees each request chunk once it is on disk and hashed (local/oss/README.md
  // "Memory"), so its RSS does not depend on when V8 collects garbage.
  child = spawn(process.execPath, ['local/oss/main.ts', '--port', '0', '--data-dir', dataDir, '--bucket', 'big-bucket', '--no-fsync'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      if (l.includes('"ready"')) resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`local oss exited early with ${code}`)));
  });
  const ready = JSON.parse(line) as { endpoint: string; accessKeyId: string; accessKeySecret: string };
  c = new OSS({
    endpoint: ready.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: 'big-bucket',
    accessKeyId: ready.accessKeyId,
    accessKeySecret: ready.accessKeySecret,
    timeout: 600_000,
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('5 GiB multipart object', () => {
  it('uploads in parallel parts and reads back by ranges with matching CRC-64, server RSS < 200 MB', async () => {
    // Prepare
    let peak = 0;
    const sampler = setInterval(() => {
      void rssOf(child.pid!).then((r) => (peak = Math.max(peak, r.rss)), () => {});
    }, 250);
    const key = 'archive/5GiB object+1.bin';
    const nParts = TOTAL / PART;
    const partCrcs: bigint[] = new Array(nParts);
    const etags: string[] = new Array(nParts);
    const init = await c.initMultipartUpload(key);
    try {
      // Act: upload (ali-oss's own per-part request with a streamed body, as multipartUpload does internally)
      let next = 0;
      const workers = Array.from({ length: PARALLEL }, async () => {
        while (next < nParts) {
          const i = next++;
          const stream = partStream(i, PART, (crc) => (partCrcs[i] = crc));
          const r = await c._uploadPart(key, init.uploadId, i + 1, { stream, size: PART });
          etags[i] = r.etag;
          expect(r.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(partCrcs[i]!));
        }
      });
      await Promise.all(workers);
      const done = await c.completeMultipartUpload(key, init.uploadId, etags.map((etag, i) => ({ number: i + 1, etag })));
      const head = await c.head(key);
      // Act: read back the whole object by 512 MiB ranges, plus an odd range across a part boundary
      let readCrc = 0n;
      let readBytes = 0;
      const RANGE = 512 * MiB;
      for (let start = 0; start < TOTAL; start += RANGE) {
        const r = await c.getStream(key, { headers: { Range: `bytes=${start}-${start + RANGE - 1}` } });
        expect(r.res.status).toBe(206);
        expect(r.res.headers['x-oss-hash-crc64ecma']).toBe(done.res.headers['x-oss-hash-crc64ecma']);
        for await (const ch of r.stream as Readable) {
          readCrc = crc64(ch as Buffer, readCrc);
          readBytes += (ch as Buffer).length;
        }
      }
      const odd = await c.get(key, { headers: { Range: `bytes=${PART - 10}-${PART + 9}` } });
      // Assess
      let expected = 0n;
      for (const crc of partCrcs) expected = crc64Combine(expected, crc, PART);
      expect(done.res.headers['x-oss-hash-crc64ecma']).toBe(crc64ToWire(expected));
      expect(head.res.headers['content-length']).toBe(String(TOTAL));
      expect(head.res.headers.etag).toMatch(/-80"$/);
      expect(readBytes).toBe(TOTAL);
      expect(crc64ToWire(readCrc)).toBe(crc64ToWire(expected));
      const lastOfPart0 = chunkAt(PART / CHUNK - 1).subarray(CHUNK - 10);
      const firstOfPart1 = chunkAt(PART / CHUNK).subarray(0, 10);
      expect(Buffer.compare(odd.content, Buffer.concat([lastOfPart0, firstOfPart1]))).toBe(0);
    } finally {
      clearInterval(sampler);
    }
    const final = await rssOf(child.pid!);
    const peakRss = Math.max(peak, final.hwm);
    console.log(JSON.stringify({ msg: 'local oss 5 GiB peak RSS', peakRssBytes: peakRss, peakRssMB: Math.round(peakRss / 1e6) }));
    expect(peakRss).toBeLessThan(RSS_LIMIT);
  }, 1_200_000);
});
