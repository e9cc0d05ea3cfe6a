import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { jobIdFor, jobIdOf, parseJob, parseOssUrl, stableSourceUrl } from '../../shared/job.ts';

const minimal = { source: 'https://files.example.com/big.bin', destination: 'oss://dst-bucket/dir/big.bin' };

describe('parseJob', () => {
  it('keeps workers "auto" or a number as given', () => {
    // Act
    const auto = parseJob({ ...minimal, workers: 'auto' });
    const fixed = parseJob({ ...minimal, workers: 32 });
    // Assess
    expect(auto.workers).toBe('auto');
    expect(fixed.workers).toBe(32);
  });

  it('fills defaults for a minimal copy job', () => {
    // Act
    const job = parseJob(minimal);
    // Assess
    expect(job).toEqual({
      source: { kind: 'http', url: minimal.source },
      destination: { bucket: 'dst-bucket', key: 'dir/big.bin' },
      mode: 'copy',
      partSize: 'auto',
      workers: 'auto',
      streamsPerWorker: 8,
      overwrite: false,
      unpinned: 'refuse',
      object: { preserve: true },
    });
  });

  it('parses an OSS source in another region, archive mode, expected size and CRC-64', () => {
    // Prepare
    const input = {
      source: 'oss://src-bucket/a/b c+d.bin',
      sourceRegion: 'oss-cn-beijing',
      destination: 'oss://dst-bucket/x.gz',
      mode: 'archive',
      gzipLevel: 2,
      expectedSize: 10,
      expectedCrc64: '11051210869376104954',
      partSize: 8 * 1024 * 1024,
    };
    // Act
    const job = parseJob(input);
    // Assess
    expect(job.source).toEqual({ kind: 'oss', url: input.source, bucket: 'src-bucket', key: 'a/b c+d.bin', region: 'cn-beijing' });
    expect(job.mode === 'archive' && job.gzipLevel).toBe(2);
    expect(job.expectedCrc64).toBe(11051210869376104954n);
    expect(job.partSize).toBe(8 * 1024 * 1024);
  });

  it.each([
    ['source', { ...minimal, source: 'ftp://x/y' }, /^source: scheme ftp: is not supported\. Fix: use http:\/\/host\/path, https:\/\/host\/path, oss:\/\/bucket\/key, sftp:\/\//],
    ['source', { destination: minimal.destination }, /^source: is required\. Fix: /],
    ['destination', { ...minimal, destination: 's3://b/k' }, /^destination: .*must start with oss:\/\/.*Fix: use oss:\/\/bucket\/key/],
    ['destination', { ...minimal, destination: 'oss://Bad_Bucket!/k' }, /^destination: .*bucket.*Fix: /],
    ['destination', { ...minimal, destination: 'oss://bucket/' }, /^destination: .*empty object key/],
    ['mode', { ...minimal, mode: 'zip' }, /^mode: .*Fix: use "copy" or "archive"/],
    ['gzipLevel', { ...minimal, gzipLevel: 1 }, /^gzipLevel: only applies to mode "archive"/],
    ['partSize', { ...minimal, partSize: 1024 }, /^partSize: .*Fix: use "auto" or a byte count/],
    ['workers', { ...minimal, workers: 0 }, /^workers: .*Fix: use "auto" .* or a whole number between 1 and 300/],
    ['workers', { ...minimal, workers: 'many' }, /^workers: .*Fix: use "auto" .* or a whole number between 1 and 300/],
    ['streamsPerWorker', { ...minimal, streamsPerWorker: 2.5 }, /^streamsPerWorker: /],
    ['overwrite', { ...minimal, overwrite: 'yes' }, /^overwrite: .*Fix: write true or false/],
    ['expectedCrc64', { ...minimal, expectedCrc64: '0x12' }, /^expectedCrc64: .*Fix: /],
    ['sourceEndpoint', { ...minimal, sourceEndpoint: 'https://oss-cn-beijing.aliyuncs.com' }, /^sourceEndpoint: only applies to oss:\/\/ sources/],
    ['bogus', { ...minimal, bogus: 1 }, /^bogus: is not a known field\. Fix: remove it/],
  ])('names %s in the error', async (field, input, message) => {
    // Act
    let caught: unknown;
    try {
      parseJob(input);
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe(field);
    expect((caught as Error).message).toMatch(message);
  });

  it('refuses a non-object', () => {
    // Act
    const act = () => parseJob('oss://a/b');
    // Assess
    expect(act).toThrow(/^job: must be a JSON object/);
  });
});

describe('parseOssUrl', () => {
  it('keeps the key raw (no percent-decoding)', () => {
    // Act
    const loc = parseOssUrl('oss://bkt/a%20b/c');
    // Assess
    expect(loc).toEqual({ bucket: 'bkt', key: 'a%20b/c' });
  });
});

describe('jobIdFor', () => {
  const source = { url: 'https://h.example/f.bin?X-Amz-Signature=abc&X-Amz-Date=1&v=2', identity: { size: 10, etag: '"e1"' } };

  it('is deterministic and ignores URL signatures and credentials', () => {
    // Prepare
    const resigned = { ...source, url: 'https://user:pw@h.example/f.bin?v=2&X-Amz-Signature=zzz&X-Amz-Date=9' };
    // Act
    const a = jobIdFor(source, 'oss://b/k');
    const b = jobIdFor(resigned, { bucket: 'b', key: 'k' });
    // Assess
    expect(a).toMatch(/^j[0-9a-f]{32}$/);
    expect(b).toBe(a);
  });

  it('changes with the source version, the query and the destination', () => {
    // Act
    const base = jobIdFor(source, 'oss://b/k');
    const ids = [
      jobIdFor({ ...source, identity: { size: 10, etag: '"e2"' } }, 'oss://b/k'),
      jobIdFor({ ...source, identity: { size: 11, etag: '"e1"' } }, 'oss://b/k'),
      jobIdFor({ ...source, identity: { ...source.identity, crc64: 5n } }, 'oss://b/k'),
      jobIdFor({ ...source, url: 'https://h.example/f.bin?v=3' }, 'oss://b/k'),
      jobIdFor(source, 'oss://b/k2'),
    ];
    // Assess
    expect(new Set([base, ...ids]).size).toBe(6);
  });

  it('changes with the mode and the gzip level, which change the result', () => {
    // Act
    const ids = [
      jobIdFor(source, 'oss://b/k'),
      jobIdFor(source, 'oss://b/k', { mode: 'archive', gzipLevel: 1 }),
      jobIdFor(source, 'oss://b/k', { mode: 'archive', gzipLevel: 2 }),
    ];
    // Assess
    expect(new Set(ids).size).toBe(3);
    expect(jobIdFor(source, 'oss://b/k', { mode: 'copy' })).toBe(ids[0]);
  });

  it('a local file named by sourceName keeps its id when it is served on another port', () => {
    // Prepare
    const identity = { size: 10, etag: '"d-1"', mtimeMs: 1_700_000_000_000 };
    const onPort = (port: number) => parseJob({ source: `http://127.0.0.1:${port}/big.log`, destination: 'oss://bkt/k', sourceName: 'file:///data/big.log' });
    // Act
    const a = jobIdOf(onPort(40001), identity);
    const b = jobIdOf(onPort(40999), identity);
    const unnamed = jobIdOf(parseJob({ source: 'http://127.0.0.1:40001/big.log', destination: 'oss://bkt/k' }), identity);
    // Assess
    expect(b).toBe(a);
    expect(unnamed).not.toBe(a);
    expect(jobIdOf(onPort(40001), { ...identity, mtimeMs: identity.mtimeMs + 1 })).not.toBe(a);
  });

  it('stableSourceUrl strips signing parameters only', () => {
    // Act
    const s = stableSourceUrl('https://h/p?OSSAccessKeyId=a&Expires=1&Signature=s&keep=1');
    // Assess
    expect(s).toBe('https://h/p?keep=1');
  });
});
