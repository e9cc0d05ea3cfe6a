/**
 * HTTP sources that publish a CRC-64 (an OSS signed URL answers with x-oss-hash-crc64ecma) are verified end
 * to end without being asked: the job proves the copy against the source's own CRC, and a source whose
 * stated CRC does not match its bytes fails the job with nothing written.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { FunctionInvocationError } from '../../functions/invoke/invoker.ts';
import type { FunctionErrorBody } from '../../functions/runtime/types.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { uploadsLeft } from '../helpers/local-cloud.ts';

/** A ranged-GET origin with a strong ETag that states `statedCrc` as the object's CRC-64. */
async function crcOrigin(data: Buffer, statedCrc: bigint): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const common = { etag: '"v1"', 'x-oss-hash-crc64ecma': statedCrc.toString(10), 'accept-ranges': 'bytes' };
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.method === 'HEAD' || !m) {
      res.writeHead(200, { ...common, 'content-length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]) + 1, data.length);
    res.writeHead(206, { ...common, 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${data.length}` });
    res.end(data.subarray(start, end));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/obj.bin`, close: () => new Promise((ok) => server.close(() => ok())) };
}

let cloud: LocalCloud;
let client: OSS;
beforeAll(async () => {
  cloud = await startLocalCloud({ workers: { maxInstances: 2, instanceConcurrency: 1 } });
  client = cloud.ossClient();
});
afterAll(async () => {
  await cloud?.close();
});

describe('a source that publishes its CRC-64 is verified against it', () => {
  it('a copy from an HTTP origin stating the right CRC-64 reports it as the source CRC, proven', async () => {
    // Prepare
    const data = randomBytes(450_000);
    const origin = await crcOrigin(data, crc64(data));
    // Act
    const report = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/crc/right.bin`, partSize: 100 * 1024 });
    await origin.close();
    // Assess
    expect(report.verified.sourceCrc64).toBe(crc64(data));
    expect(report.crc64).toBe(crc64(data));
  });

  it('an origin whose stated CRC-64 does not match its bytes fails the job, upload aborted, nothing written', async () => {
    // Prepare
    const data = randomBytes(450_000);
    const origin = await crcOrigin(data, crc64(data) ^ 1n);
    // Act
    const err = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/crc/lying.bin`, partSize: 100 * 1024 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await origin.close();
    // Assess
    expect(err).toBeInstanceOf(FunctionInvocationError);
    const body = (err as FunctionInvocationError).body as FunctionErrorBody;
    expect(body.errorMessage).toMatch(/differs from the source's CRC-64/);
    await expect(client.head('crc/lying.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });
});
