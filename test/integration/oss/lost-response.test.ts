/**
 * The local OSS fault "response lost after the request executed" (lostResponseRate), with the unmodified
 * ali-oss client: the request's effect is there afterwards although the client only saw a dropped connection,
 * the admin API counts each one, and the decisions repeat for the same seed.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { bytes, client, errorOf, md5Hex } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function start(): Promise<LocalOss> {
  const s = await startOssServer({ buckets: ['lost-b'], fsync: false });
  cleanups.push(() => s.close());
  return s;
}

function stats(s: LocalOss): Promise<{ lostResponses: number; lostByOperation: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.admin.endpoint}/_ossferry/stats`, { headers: { authorization: `Bearer ${s.admin.token}` } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve(JSON.parse(t)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Loses the answer of `operation` only, every time. */
const loseAll = (s: LocalOss, operation: string) => s.setFaults({ operations: { [operation]: { lostResponseRate: 1 } } });

describe('lost responses: the request executes, the answer never comes', () => {
  it('PutObject: the object is stored, the client saw a dropped connection', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'lost-b');
    const data = bytes(300_000, 3);
    loseAll(s, 'PutObject');
    // Act
    const err = await errorOf(() => c.put('lost/put.bin', data));
    s.setFaults({});
    const got = await c.get('lost/put.bin');
    // Assess
    expect(err.status).toBe(-1); // ali-oss: no HTTP answer (connection reset)
    expect(md5Hex(got.content)).toBe(md5Hex(data));
    // The HTTP client may send the request again on the dropped keep-alive connection (lost again): ≥ 1.
    const counted = await stats(s);
    expect(Object.keys(counted.lostByOperation)).toEqual(['PutObject']);
    expect(counted.lostResponses).toBeGreaterThanOrEqual(1);
  });

  it('InitiateMultipartUpload, UploadPart and CompleteMultipartUpload each take effect without an answer', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'lost-b');
    const key = 'lost/multipart.bin';
    const part1 = bytes(200_000, 5);
    const part2 = bytes(50_000, 6);
    // Act: Initiate, answer lost → the upload exists and ListMultipartUploads finds it
    loseAll(s, 'InitiateMultipartUpload');
    const initErr = await errorOf(() => c.initMultipartUpload(key));
    s.setFaults({});
    const listed = await c.listUploads({ prefix: key });
    const uploadId: string = listed.uploads[0].uploadId;
    // Act: UploadPart, answer lost → ListParts has the part
    loseAll(s, 'UploadPart');
    const partErr = await errorOf(() => c.uploadPart(key, uploadId, 1, part1, 0, part1.length));
    s.setFaults({});
    const p2 = await c.uploadPart(key, uploadId, 2, part2, 0, part2.length);
    const parts = await c.listParts(key, uploadId);
    // Act: Complete, answer lost → the object exists and the upload is gone
    loseAll(s, 'CompleteMultipartUpload');
    const completeErr = await errorOf(() => c.completeMultipartUpload(key, uploadId, [{ number: 1, etag: `"${md5Hex(part1)}"` }, { number: 2, etag: p2.etag }]));
    s.setFaults({});
    const got = await c.get(key);
    const after = await c.listUploads({ prefix: key });
    // Assess
    expect([initErr.status, partErr.status, completeErr.status]).toEqual([-1, -1, -1]);
    expect(listed.uploads).toHaveLength(1);
    expect(parts.parts.map((p: { PartNumber: string; ETag: string }) => [Number(p.PartNumber), p.ETag])).toEqual([
      [1, `"${md5Hex(part1)}"`],
      [2, p2.etag],
    ]);
    expect(md5Hex(got.content)).toBe(md5Hex(Buffer.concat([part1, part2])));
    expect(after.uploads ?? []).toHaveLength(0);
    // As above, a request may have been sent twice: ≥ 1 each.
    const counted = await stats(s);
    expect(Object.keys(counted.lostByOperation).sort()).toEqual(['CompleteMultipartUpload', 'InitiateMultipartUpload', 'UploadPart']);
    expect(Object.values(counted.lostByOperation).every((n) => n >= 1)).toBe(true);
    expect(counted.lostResponses).toBe(Object.values(counted.lostByOperation).reduce((a, b) => a + b, 0));
  });

  it('a rate draws from the seeded dice: the same seed loses the same requests, other operations are untouched', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'lost-b');
    const run = async () => {
      s.setFaults({ seed: 99, operations: { PutObject: { lostResponseRate: 0.5 } } });
      const outcomes: boolean[] = [];
      for (let i = 0; i < 16; i++) outcomes.push(await c.put(`lost/rate-${i}.txt`, Buffer.from(`v${i}`)).then(() => true, () => false));
      return outcomes;
    };
    // Act
    const first = await run();
    const second = await run();
    const heads = await Promise.all(first.map((_ok, i) => c.head(`lost/rate-${i}.txt`).then(() => true)));
    // Assess
    expect(second).toEqual(first);
    expect(first.filter((ok) => !ok).length).toBeGreaterThan(0);
    expect(first.filter((ok) => ok).length).toBeGreaterThan(0);
    expect(heads.every(Boolean)).toBe(true); // every PUT took effect, answered or not
    const counted = await stats(s);
    expect(Object.keys(counted.lostByOperation)).toEqual(['PutObject']);
    expect(counted.lostResponses).toBeGreaterThanOrEqual(2 * first.filter((ok) => !ok).length);
  });
});
