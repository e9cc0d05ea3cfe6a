/**
 * Archive jobs through the whole local cloud: fc2 → local FC gateway → coordinator child process → fc2 →
 * worker child processes → HTTP source / real OpenSSH sshd → ali-oss → local OSS. Outputs are decoded by
 * real decoders (gzip -dc, zcat, Node zlib) and compared byte for byte with the input; the decoded CRC-64
 * equals the object's x-oss-meta-uncompressed-crc64. The SFTP private key reaches the functions only through
 * their env (OSSFERRY_SFTP_PRIVATE_KEY); the host key pin only through the job (sftpHostKeyFingerprint).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { invocationFailure, putWithEvent } from '../helpers/local-cloud.ts';
import { startLocalCloud, type LocalCloud, type LocalJobProgress } from '../../local/cloud.ts';
import { decodeWith } from '../helpers/decode.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

const MiB = 1024 * 1024;
const logLike = generateLogLike(12 * MiB + 12345, 77);
const small = generateLogLike(700 * 1024, 78);

let cloud: LocalCloud;
let sshd: Sshd;
let dir: string;
let client: OSS;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ossferry-archive-cloud-'));
  await writeFile(join(dir, 'app.log'), logLike);
  sshd = await startSshd({ files: { 'logs/app.log': logLike, 'logs/small.log': small } });
  cloud = await startLocalCloud({
    sourceRoot: dir,
    buckets: ['ossferry', 'logs-src'],
    workers: { maxInstances: 3, instanceConcurrency: 1 },
    coordinator: { maxInstances: 2, instanceConcurrency: 2 },
    // Only the private key: the host key pin must come from each job.
    sftp: { privateKey: sshd.privateKey },
    coordinatorEnv: {
      OSSFERRY_ARCHIVE_RULES: JSON.stringify([{ name: 'logs', sourceBucket: 'logs-src', sourcePrefix: 'incoming/', destinationBucket: 'ossferry', destinationPrefix: 'archived/' }]),
    },
  });
  client = cloud.ossClient();
}, 120_000);
afterAll(async () => {
  await cloud?.close();
  await sshd?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function uploadsLeft(bucket = 'ossferry'): Promise<number> {
  const r = (await cloud.ossClient(bucket).listUploads({ 'max-uploads': 1000 } as never)) as unknown as { uploads?: unknown[] };
  return r.uploads?.length ?? 0;
}

/** Decodes the stored object three ways; returns the decoded bytes (asserted identical) and its metadata. */
async function decodeStored(key: string): Promise<{ decoded: Buffer; meta: Record<string, string>; gz: Buffer }> {
  const got = await client.get(key);
  const gz = got.content as Buffer;
  const headers = got.res.headers as Record<string, string>;
  const meta = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-oss-meta-')).map(([k, v]) => [k.slice('x-oss-meta-'.length), String(v)]));
  const [viaGzip, viaZcat] = await Promise.all([decodeWith('gzip', ['-dc'], gz), decodeWith('zcat', [], gz)]);
  const viaNode = gunzipSync(gz);
  expect(viaGzip.equals(viaNode)).toBe(true);
  expect(viaZcat.equals(viaNode)).toBe(true);
  return { decoded: viaNode, meta, gz };
}


describe('archive jobs through the local cloud (fc2 → gateway → worker processes)', () => {
  it('archives from the HTTP source: gzip -dc, zcat and Node zlib give the input; metadata CRC == decoded CRC', async () => {
    // Prepare
    const seen: LocalJobProgress[] = [];
    // Act
    const report = await cloud.submitJob(
      { source: cloud.httpSource.url('/app.log'), destination: 'oss://ossferry/http/app.log.gz', mode: 'archive', workers: 3 },
      { onProgress: (p) => seen.push(p), pollMs: 50 },
    );
    // Assess
    const { decoded, meta, gz } = await decodeStored('http/app.log.gz');
    expect(decoded.equals(logLike)).toBe(true);
    expect(meta['uncompressed-crc64']).toBe(crc64(decoded).toString());
    expect(meta['uncompressed-size']).toBe(String(logLike.length));
    expect(report.uncompressedCrc64).toBe(crc64(logLike));
    expect(report.crc64).toBe(crc64(gz));
    expect(report.compressedSize).toBe(gz.length);
    expect(report.ratio).toBeGreaterThan(3);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p) => p.archive !== undefined && p.size === logLike.length)).toBe(true);
    expect(await uploadsLeft()).toBe(0);
  });

  it('archives from SFTP (real sshd), the host key pinned by the job and the key from the function env', async () => {
    // Act
    const report = await cloud.submitJob({
      source: sshd.urlFor('logs/app.log'),
      destination: 'oss://ossferry/sftp/app.log.gz',
      mode: 'archive',
      gzipLevel: 2,
      sftpHostKeyFingerprint: sshd.hostKeyFingerprint,
    });
    // Assess
    const { decoded, meta } = await decodeStored('sftp/app.log.gz');
    expect(decoded.equals(logLike)).toBe(true);
    expect(meta['uncompressed-crc64']).toBe(crc64(decoded).toString());
    expect(meta['gzip-level']).toBe('2');
    expect(report.gzipLevel).toBe(2);
    expect(report.uncompressedCrc64).toBe(crc64(logLike));
    expect(sshd.log()).toMatch(/Accepted publickey/);
  });

  it('copies (mode copy) from SFTP with the job host key pin carried to the workers', async () => {
    // Act: no OSSFERRY_SFTP_HOST_KEYS in the env, so the workers can only connect with the task's pin
    const report = await cloud.submitJob({ source: sshd.urlFor('logs/small.log'), destination: 'oss://ossferry/sftp/small.log', partSize: 200 * 1024, sftpHostKeyFingerprint: sshd.hostKeyFingerprint });
    // Assess
    expect(report.parts).toBe(4);
    expect(report.crc64).toBe(crc64(small));
    expect(((await client.get('sftp/small.log')).content as Buffer).equals(small)).toBe(true);
  });

  it('a wrong SFTP host key fails cleanly before authentication, with no upload left', async () => {
    // Prepare
    const wrong = 'SHA256:' + 'B'.repeat(43);
    const logBefore = sshd.log().length;
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: sshd.urlFor('logs/app.log'), destination: 'oss://ossferry/sftp/wrong.log.gz', mode: 'archive', sftpHostKeyFingerprint: wrong }));
    // Assess
    expect(body.code).toBe('HostKeyMismatch');
    expect(body.errorMessage).toMatch(/host key/i);
    await new Promise((r) => setTimeout(r, 200)); // sshd logs its side of the closed connection
    expect(sshd.log().slice(logBefore)).not.toMatch(/Accepted publickey|Failed publickey|userauth/i);
    expect(await uploadsLeft()).toBe(0);
    await expect(client.head('sftp/wrong.log.gz')).rejects.toMatchObject({ status: 404 });
  });

  it('a malformed sftpHostKeyFingerprint is refused naming the field and the fix', async () => {
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: sshd.urlFor('logs/app.log'), destination: 'oss://ossferry/sftp/bad.gz', mode: 'archive', sftpHostKeyFingerprint: 'MD5:aa:bb' }));
    // Assess
    expect(body.code).toBe('InvalidInput');
    expect(body.errorMessage).toMatch(/^sftpHostKeyFingerprint: .*Fix: .*ssh-keygen -lf/);
    expect(await uploadsLeft()).toBe(0);
  });

  it('a duplicated OSS trigger event through fc2 yields one archive; the second delivery reports already archived', async () => {
    // Prepare
    const data = generateLogLike(1536 * 1024, 79);
    const event = await putWithEvent(cloud.ossClient('logs-src'), 'logs-src', 'incoming/web.log', data, cloud.oss.region);
    // Act
    const first = await cloud.submitOssEvent(event);
    const etagAfterFirst = (await client.head('archived/web.log.gz')).res.headers as Record<string, string>;
    const second = await cloud.submitOssEvent(event);
    // Assess
    expect(first).toMatchObject({ archived: 1, alreadyArchived: 0, failed: 0 });
    expect(second).toMatchObject({ archived: 0, alreadyArchived: 1, failed: 0 });
    expect(second.results[0]!.report).toMatchObject({ alreadyArchived: true });
    expect(((await client.head('archived/web.log.gz')).res.headers as Record<string, string>).etag).toBe(etagAfterFirst.etag);
    const { decoded, meta } = await decodeStored('archived/web.log.gz');
    expect(decoded.equals(data)).toBe(true);
    expect(meta['uncompressed-crc64']).toBe(crc64(data).toString());
    const listed = await client.list({ prefix: 'archived/', 'max-keys': 100 }, {});
    expect((listed.objects ?? []).map((o) => o.name)).toEqual(['archived/web.log.gz']);
    expect(await uploadsLeft()).toBe(0);
  });
});
