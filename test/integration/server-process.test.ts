import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { HttpSource } from '../../functions/sources/http.ts';
import { ServerProcessError, startHttpSourceProcess, startOssServerProcess } from '../../local/server-process.ts';
import type { HttpSourceServer } from '../../local/http-source/index.ts';
import type { LocalOss } from '../../local/oss/index.ts';

describe('local servers in their own processes (local/server-process.ts)', () => {
  let dir: string;
  let oss: LocalOss;
  let src: HttpSourceServer;
  const data = randomBytes(3 * 1024 * 1024 + 7);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-server-process-'));
    await writeFile(path.join(dir, 'a.bin'), data);
    oss = await startOssServerProcess({ buckets: ['bkt'], fsync: false });
    src = await startHttpSourceProcess({ root: dir });
  });
  afterAll(async () => {
    await oss?.close();
    await src?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the OSS process stores an object and answers with its CRC-64', async () => {
    // Prepare
    const client = new OSS({ ...oss.clientOptions('bkt'), retryMax: 0 } as unknown as OSS.Options);
    // Act
    const put = await client.put('k.bin', data);
    const got = await client.get('k.bin');
    // Assess
    expect((put.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(crc64(data).toString());
    expect(Buffer.compare(got.content as Buffer, data)).toBe(0);
  });

  it('setFaults reaches the OSS process', async () => {
    // Prepare
    const client = new OSS({ ...oss.clientOptions('bkt'), retryMax: 0 } as unknown as OSS.Options);
    oss.setFaults({ all: { slowDownRate: 1 } });
    // Act (the faults travel over the child's stdin: poll until they apply, then until they are gone)
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      err = await client.head('k.bin').then(
        () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 20)),
        (e: unknown) => e,
      );
    }
    oss.setFaults({});
    let after: { status: number } | undefined;
    for (let i = 0; i < 100 && after === undefined; i++) {
      after = await client.head('k.bin').then(
        (r) => r as { status: number },
        () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 20)),
      );
    }
    // Assess
    expect((err as { status?: number } | undefined)?.status).toBe(503);
    expect(after?.status).toBe(200);
  });

  it('the HTTP source process serves pinned ranged reads', async () => {
    // Prepare
    const source = new HttpSource(src.url('/a.bin'), { allow: parseAllowList('127.0.0.1') });
    // Act
    const id = await source.stat();
    const parts: Buffer[] = [];
    for await (const c of await source.read(1000, 2_000_000, id)) parts.push(c as Buffer);
    await source.close();
    // Assess
    expect(id.size).toBe(data.length);
    expect(id.etag).toMatch(/^"/);
    expect(Buffer.compare(Buffer.concat(parts), data.subarray(1000, 2_000_000))).toBe(0);
  });

  it('shaping options reach the HTTP source process: a bad one stops it before it is ready', async () => {
    // Act
    const act = startHttpSourceProcess({ root: dir, latencyMs: 30, bandwidthBytesPerSecond: -5 });
    // Assess
    await expect(act).rejects.toBeInstanceOf(ServerProcessError);
  });

  it('in-memory file operations are refused with a named error', () => {
    // Prepare
    const bytes = new Uint8Array(1);
    // Act
    const act = () => src.setFile('/x.bin', bytes);
    // Assess
    expect(act).toThrow(ServerProcessError);
  });
});
