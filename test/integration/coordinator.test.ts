/**
 * The coordinator end to end over real protocols: fc2 → local FC gateway → coordinator child process →
 * fc2 → worker child processes → HTTP source (Range/ETag) → ali-oss → local OSS. Small sizes; the GB cases
 * live in copy.test.ts.
 */
import { randomBytes } from 'node:crypto';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';

const KB100 = 100 * 1024;

let cloud: LocalCloud;
let client: OSS;

beforeAll(async () => {
  cloud = await startLocalCloud({ workers: { maxInstances: 3, instanceConcurrency: 1 }, coordinator: { maxInstances: 2, instanceConcurrency: 2 } });
  client = cloud.ossClient();
});
afterAll(async () => {
  await cloud?.close();
});

async function objectBytes(key: string): Promise<Buffer> {
  return (await client.get(key)).content as Buffer;
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.head(key);
    return true;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false;
    throw err;
  }
}


describe('coordinator: copies over the local cloud', () => {
  const cases: Array<{ name: string; size: number; partSize: number; parts: number }> = [
    { name: '0 B', size: 0, partSize: KB100, parts: 1 },
    { name: '1 B', size: 1, partSize: KB100, parts: 1 },
    { name: '100 KB - 1', size: KB100 - 1, partSize: KB100, parts: 1 },
    { name: '100 KB', size: KB100, partSize: KB100, parts: 1 },
    { name: '100 KB + 1', size: KB100 + 1, partSize: KB100, parts: 2 },
    { name: 'exactly one part of 1 MiB', size: 1024 * 1024, partSize: 1024 * 1024, parts: 1 },
    { name: '37 parts over 3 workers', size: 37 * KB100 - 123, partSize: KB100, parts: 37 },
  ];
  for (const c of cases) {
    it(`copies ${c.name} verified by CRC-64, with source metadata and no upload left`, async () => {
      // Prepare
      const data = randomBytes(c.size);
      const path = `/sizes/${c.size}-${c.partSize}.bin`;
      cloud.httpSource.setFile(path, data);
      const key = `sizes/${c.size}-${c.partSize}.bin`;
      // Act
      const report = await cloud.submitJob({ source: cloud.httpSource.url(path), destination: `oss://${cloud.bucket}/${key}`, partSize: c.partSize, workers: 3, streamsPerWorker: 2 });
      // Assess
      expect(report.size).toBe(c.size);
      expect(report.parts).toBe(c.parts);
      expect(report.crc64).toBe(crc64(data));
      expect(report.verified.ossCrc64).toBe(report.crc64);
      expect(report.verified.combinedCrc64).toBe(report.crc64);
      expect((await objectBytes(key)).equals(data)).toBe(true);
      const head = await client.head(key);
      const meta = head.meta as unknown as Record<string, string>;
      expect(meta['ossferry-job-id']).toBe(report.jobId);
      expect(meta['source-url']).toBe(cloud.httpSource.url(path));
      expect(meta['source-etag']).toBe(cloud.httpSource.etagOf(path));
      expect(meta['source-size']).toBe(String(c.size));
      expect(await uploadsLeft(client)).toBe(0);
      const status = await cloud.statusOf(report.jobId);
      expect(status?.state).toBe('succeeded');
      expect(status?.parts.length).toBe(c.parts);
    });
  }

  it('refuses an existing destination without overwrite before moving any bytes, and replaces it with overwrite', async () => {
    // Prepare
    const key = 'exists/target.bin';
    const old = Buffer.from('the old object must survive');
    await client.put(key, old);
    const data = randomBytes(3 * KB100);
    cloud.httpSource.setFile('/exists.bin', data);
    const reads = cloud.httpSource.requests.filter((r) => r.method === 'GET').length;
    const spec = { source: cloud.httpSource.url('/exists.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: KB100 };
    // Act
    const body = await invocationFailure(cloud.submitJob(spec));
    // Assess
    expect(body.code).toBe('DestinationExists');
    expect(body.errorMessage).toContain(`oss://${cloud.bucket}/${key} already exists`);
    expect(body.errorMessage).toContain('overwrite');
    expect((await objectBytes(key)).equals(old)).toBe(true);
    expect(cloud.httpSource.requests.filter((r) => r.method === 'GET').length).toBe(reads);
    expect(await uploadsLeft(client)).toBe(0);
    // Act (overwrite)
    const report = await cloud.submitJob({ ...spec, overwrite: true });
    // Assess
    expect(report.crc64).toBe(crc64(data));
    expect((await objectBytes(key)).equals(data)).toBe(true);
  });

  it('a second submission of a finished job reports the verified object without copying again', async () => {
    // Prepare
    const data = randomBytes(2 * KB100 + 5);
    cloud.httpSource.setFile('/twice.bin', data);
    const spec = { source: cloud.httpSource.url('/twice.bin'), destination: `oss://${cloud.bucket}/twice.bin`, partSize: KB100 };
    const first = await cloud.submitJob(spec);
    const gets = cloud.httpSource.requests.filter((r) => r.method === 'GET').length;
    // Act
    const second = await cloud.submitJob(spec);
    // Assess
    expect(second.alreadyDone).toBe(true);
    expect(second.jobId).toBe(first.jobId);
    expect(second.crc64).toBe(first.crc64);
    expect(cloud.httpSource.requests.filter((r) => r.method === 'GET').length).toBe(gets);
  });

  it('fails cleanly when the source changes mid-copy: upload aborted, nothing at the destination', async () => {
    // Prepare: 60 parts, one stream, and a slow OSS so the change lands while parts are still being read.
    const data = randomBytes(60 * KB100);
    cloud.httpSource.setFile('/changing.bin', data);
    const key = 'changing/out.bin';
    cloud.oss.setFaults({ operations: { UploadPart: { latencyMs: 60 } } });
    const job = cloud.submitJob({ source: cloud.httpSource.url('/changing.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: KB100, workers: 1, streamsPerWorker: 1 });
    const settled = job.then(
      () => 'ok',
      () => 'failed',
    );
    // Act: change one byte once the first parts are in.
    for (let i = 0; i < 400 && cloud.httpSource.requests.filter((r) => r.path === '/changing.bin' && r.method === 'GET').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    cloud.httpSource.mutateFile('/changing.bin', 59 * KB100);
    const body = await invocationFailure(job);
    cloud.oss.setFaults({});
    // Assess
    expect(await settled).toBe('failed');
    expect(body.code).toBe('SourceChanged');
    expect(body.errorMessage).toMatch(/aborted, nothing written/);
    expect((body.details as { aborted?: boolean }).aborted).toBe(true);
    expect(await exists(key)).toBe(false);
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('stops before any upload when the status location cannot be written (no untracked upload can exist)', async () => {
    // Prepare: the lease and status objects are written with PutObject; parts use UploadPart and are unaffected.
    const data = randomBytes(3 * KB100);
    cloud.httpSource.setFile('/status-fails.bin', data);
    const key = 'status-fails.bin';
    cloud.oss.setFaults({ operations: { PutObject: { errorRate: 1 } } });
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: cloud.httpSource.url('/status-fails.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: KB100 }));
    cloud.oss.setFaults({});
    // Assess
    expect(body.errorMessage).toMatch(/writing status object .* failed/);
    expect(body.errorMessage).toContain('nothing was started');
    expect(body.details).toMatchObject({ aborted: false, uploadStarted: false });
    expect(await exists(key)).toBe(false);
    expect(await uploadsLeft(client)).toBe(0);
  });

  const ssrf = ['http://100.100.100.200/latest/meta-data/', 'http://169.254.169.254/', 'http://10.0.0.7/file', 'http://192.168.1.20/file', 'http://172.16.5.4/f', 'http://127.0.0.2:1/f', 'http://[::ffff:10.0.0.1]/f', 'http://0.0.0.0/f'];
  for (const url of ssrf) {
    it(`refuses the SSRF source ${url} before any connection, uploading nothing`, async () => {
      // Prepare
      const key = `ssrf/${encodeURIComponent(url)}`;
      // Act
      const body = await invocationFailure(cloud.submitJob({ source: url, destination: `oss://${cloud.bucket}/${key}` }));
      // Assess
      expect(body.code).toBe('InvalidInput');
      expect(body.errorMessage).toMatch(/^source: /);
      expect(body.errorMessage).toMatch(/refused|not allowed|private|metadata|loopback|link-local|unspecified/i);
      expect(body.errorMessage).toContain('Fix:');
      expect(await exists(key)).toBe(false);
      expect(await uploadsLeft(client)).toBe(0);
    });
  }

  const bad: Array<{ spec: Record<string, unknown>; field: string }> = [
    { spec: { source: 'http://127.0.0.1:1/x', destination: 's3://bucket/key' }, field: 'destination' },
    { spec: { source: 'ftp://127.0.0.1/x', destination: 'oss://ossferry/k' }, field: 'source' },
    { spec: { source: 'http://127.0.0.1:1/x', destination: 'oss://ossferry/k', partSize: 1000 }, field: 'partSize' },
    { spec: { source: 'http://127.0.0.1:1/x', destination: 'oss://ossferry/k', wokers: 3 }, field: 'wokers' },
    { spec: { destination: 'oss://ossferry/k' }, field: 'source' },
  ];
  for (const b of bad) {
    it(`rejects a job with a bad ${b.field} naming the field and the fix`, async () => {
      // Act
      const body = await invocationFailure(cloud.submitJob(b.spec as never));
      // Assess
      expect(body.code).toBe('InvalidInput');
      expect(body.errorMessage.startsWith(`${b.field}: `)).toBe(true);
      expect(body.errorMessage).toContain('Fix:');
      expect(await uploadsLeft(client)).toBe(0);
    });
  }

  it('rejects a destination bucket that does not exist, naming it, before anything is uploaded', async () => {
    // Prepare
    cloud.httpSource.setFile('/nobucket.bin', randomBytes(10));
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: cloud.httpSource.url('/nobucket.bin'), destination: 'oss://no-such-bucket/k' }));
    // Assess
    expect(body.code).toBe('InvalidInput');
    expect(body.errorMessage).toContain('destination: bucket no-such-bucket does not exist');
  });

  it('rejects an expectedSize that differs from the source before uploading', async () => {
    // Prepare
    cloud.httpSource.setFile('/sized.bin', randomBytes(1000));
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: cloud.httpSource.url('/sized.bin'), destination: `oss://${cloud.bucket}/sized.bin`, expectedSize: 999 }));
    // Assess
    expect(body.errorMessage).toMatch(/^expectedSize: is 999 but the source has 1000 bytes/);
    expect(await exists('sized.bin')).toBe(false);
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('fails verification against a wrong expectedCrc64, aborting the upload and writing nothing', async () => {
    // Prepare
    const data = randomBytes(3 * KB100);
    cloud.httpSource.setFile('/crc.bin', data);
    const wrong = (crc64(data) ^ 1n).toString();
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: cloud.httpSource.url('/crc.bin'), destination: `oss://${cloud.bucket}/crc.bin`, partSize: KB100, expectedCrc64: wrong }));
    // Assess
    expect(body.code).toBe('Integrity');
    expect(body.errorMessage).toContain(`differs from expectedCrc64 ${wrong}`);
    expect((body.details as { aborted?: boolean }).aborted).toBe(true);
    expect(await exists('crc.bin')).toBe(false);
    expect(await uploadsLeft(client)).toBe(0);
  });
});
