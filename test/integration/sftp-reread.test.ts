/**
 * `unpinned: reread` for SFTP sources, through the local cloud and a real OpenSSH sshd. SFTP pins a file by size
 * and whole-second mtime only, so a same-size rewrite that keeps the mtime is invisible to the pin; reread proves
 * each uploaded part by reading it again. The rewrite is placed exactly: once the local OSS has stored part 1 and
 * before it answers (a hook), the file is rewritten (same size, mtime restored) — so part 1 was uploaded from the
 * old bytes and is read again from the new ones.
 */
import { randomBytes } from 'node:crypto';
import { stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

const PART = 100 * 1024;
const same = randomBytes(3 * PART + 11);
const changing = randomBytes(3 * PART + 11);

let sshd: Sshd;
let cloud: LocalCloud;
let client: OSS;

beforeAll(async () => {
  sshd = await startSshd({ files: { 'data/same.bin': same, 'data/changing.bin': changing } });
  cloud = await startLocalCloud({ workers: { maxInstances: 1, instanceConcurrency: 1 }, sftp: { privateKey: sshd.privateKey } });
  client = cloud.ossClient();
}, 60_000);
afterAll(async () => {
  await cloud?.close();
  await sshd?.close();
});

describe('unpinned: reread over SFTP', () => {
  const spec = (name: string) => ({
    source: sshd.urlFor(`data/${name}`),
    destination: `oss://${cloud.bucket}/sftp-reread/${name}`,
    sftpHostKeyFingerprint: sshd.hostKeyFingerprint,
    partSize: PART,
    workers: 1,
    streamsPerWorker: 1,
    unpinned: 'reread' as const,
  });

  it('an unchanged file (no strong validator: size and mtime only) is copied and the report says reread', async () => {
    // Act
    const report = await cloud.submitJob(spec('same.bin'));
    // Assess
    expect(report).toMatchObject({ parts: 4, reread: true, crc64: crc64(same) });
    expect(report.unpinned).toBeUndefined();
    expect(((await client.get('sftp-reread/same.bin')).content as Buffer).equals(same)).toBe(true);
  });

  it('a same-size rewrite keeping the mtime, between a part\'s upload and its re-read, fails the job: nothing written, no upload left', async () => {
    // Prepare
    const file = path.join(sshd.root, 'data/changing.bin');
    const { atime, mtime } = await stat(file);
    cloud.oss.onceBefore(
      'UploadPart',
      async () => {
        await writeFile(file, randomBytes(changing.length));
        await utimes(file, atime, mtime);
      },
      'answer',
    );
    // Act
    const body = await invocationFailure(cloud.submitJob(spec('changing.bin')));
    // Assess
    expect((await stat(file)).mtimeMs).toBe(mtime.getTime());
    expect(body.code).toBe('SourceChanged');
    expect(body.errorMessage).toMatch(/part 1 \[0, 102400\) read again has CRC-64 \d+, uploaded \d+: the source changed during the copy \(unpinned: reread\)/);
    await expect(client.head('sftp-reread/changing.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });
});
