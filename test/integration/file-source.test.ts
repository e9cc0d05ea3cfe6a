/**
 * The file:// source beyond the RangeSource contract: refused unless the deployment names a root
 * (OSSFERRY_FILE_SOURCE_ROOT), confined to that root (symlinks resolved), a change during a read refused, and
 * a job through the local cloud (coordinator and workers opening it through the registry) verified against
 * the file's own CRC-64, with the same job id on a re-run.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { openSource } from '../../functions/sources/index.ts';
import { SourceRefusedError } from '../../functions/sources/screen.ts';
import { SourceChangedError } from '../../functions/sources/types.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';

let dir: string;
let root: string;
let outside: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-file-source-'));
  root = path.join(dir, 'root');
  outside = path.join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `data` to `file` with a timestamp a minute old, so a rewrite now is a later version. */
async function oldFile(file: string, data: Buffer): Promise<string> {
  await writeFile(file, data);
  const old = new Date(Date.now() - 60_000);
  await utimes(file, old, old);
  return file;
}

describe('file:// sources are refused unless a root is named', () => {
  it('without OSSFERRY_FILE_SOURCE_ROOT the source is refused before it is opened, naming the fix', async () => {
    // Prepare
    const file = await oldFile(path.join(root, 'a.bin'), randomBytes(1000));
    // Act
    const act = () => openSource(pathToFileURL(file).href, { env: {} });
    // Assess
    expect(act).toThrow(SourceRefusedError);
    expect(act).toThrow(new RegExp(`^source: file:// sources are disabled here: .*Fix: .*set ${FUNCTION_ENV.FILE_SOURCE_ROOT} to the directory`));
  });

  const escapes: Array<[string, () => Promise<string>]> = [
    ['a file outside the root', () => oldFile(path.join(outside, 'secret.bin'), randomBytes(100))],
    ['a symlink inside the root to a file outside it', async () => {
      const target = await oldFile(path.join(outside, 'linked.bin'), randomBytes(100));
      const link = path.join(root, `link-${randomBytes(4).toString('hex')}.bin`);
      await symlink(target, link);
      return link;
    }],
    ['the process environment (/proc/self/environ)', async () => '/proc/self/environ'],
    ['a path climbing out of the root with ..', async () => {
      await oldFile(path.join(outside, 'up.bin'), randomBytes(100));
      return `${root}/../outside/up.bin`;
    }],
  ];
  for (const [name, make] of escapes) {
    it(`${name} is refused at stat, naming the root`, async () => {
      // Prepare
      const file = await make();
      const src = openSource(pathToFileURL(file).href, { fileSourceRoot: root });
      // Act
      const act = src.stat();
      // Assess
      await expect(act).rejects.toBeInstanceOf(SourceRefusedError);
      await expect(act).rejects.toThrow(new RegExp(`resolves outside ${FUNCTION_ENV.FILE_SOURCE_ROOT}`));
    });
  }
});

describe('file:// reads', () => {
  it('a rewrite while a range is being read fails that read as changed', async () => {
    // Prepare
    const file = await oldFile(path.join(root, 'during.bin'), randomBytes(3 * 1024 * 1024));
    const src = openSource(pathToFileURL(file).href, { fileSourceRoot: root });
    const pin = await src.stat();
    const stream = await src.read(0, pin.size, pin);
    // Act
    let chunks = 0;
    const err = await (async () => {
      try {
        for await (const _ of stream) {
          // The exact point: after the first chunk, the file is rewritten at the same size.
          if (chunks++ === 0) await writeFile(file, randomBytes(pin.size));
        }
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    // Assess
    expect(err).toBeInstanceOf(SourceChangedError);
    expect((err as Error).message).toMatch(/the file changed during the read/);
  });

  it('identity carries the content CRC-64 and the (dev, inode, size, mtime ns) tag', async () => {
    // Prepare
    const data = randomBytes(5000);
    const file = await oldFile(path.join(root, 'id.bin'), data);
    // Act
    const id = await openSource(pathToFileURL(file).href, { fileSourceRoot: root }).stat();
    // Assess
    expect(id.crc64).toBe(crc64(data));
    expect(id.etag).toMatch(/^file:\d+:\d+:5000:\d+$/);
    expect(id.size).toBe(5000);
  });
});

describe('a job with a file:// source through the local cloud', () => {
  let cloud: LocalCloud;
  let client: OSS;
  beforeAll(async () => {
    cloud = await startLocalCloud({ workers: { maxInstances: 2, instanceConcurrency: 1 }, functionEnv: { [FUNCTION_ENV.FILE_SOURCE_ROOT]: root } });
    client = cloud.ossClient();
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it('copies the file, proven against its own CRC-64, and a re-run has the same job id', async () => {
    // Prepare
    const data = randomBytes(700_000);
    const file = await oldFile(path.join(root, 'job.bin'), data);
    const spec = { source: pathToFileURL(file).href, destination: `oss://${cloud.bucket}/file/job.bin`, partSize: 200 * 1024 };
    // Act
    const first = await cloud.submitJob(spec);
    const again = await cloud.submitJob(spec);
    // Assess
    expect(first.verified.sourceCrc64).toBe(crc64(data));
    expect(first.crc64).toBe(crc64(data));
    expect(first.parts).toBe(4);
    expect(again.jobId).toBe(first.jobId);
    expect(again.alreadyDone).toBe(true);
    const stored = await client.get('file/job.bin');
    expect(Buffer.compare(stored.content as Buffer, data)).toBe(0);
  });

  it('a file outside the root is refused before any upload, nothing written', async () => {
    // Prepare
    const file = await oldFile(path.join(outside, 'job-outside.bin'), randomBytes(300_000));
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: pathToFileURL(file).href, destination: `oss://${cloud.bucket}/file/outside.bin` }));
    // Assess
    expect(body.code).toBe('InvalidInput');
    expect(body.errorMessage).toMatch(new RegExp(`^source: .* resolves outside ${FUNCTION_ENV.FILE_SOURCE_ROOT}`));
    await expect(client.head('file/outside.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });
});
