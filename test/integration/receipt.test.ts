/**
 * Verification receipts, as a user meets them through the `ossferry` bin: `copy` (local cloud in the CLI, data in
 * --data-dir) writes a receipt next to the job's status object; `verify --data-dir` finds it by the object's job id
 * and checks the object against it — for an archive the decoded content against the receipt's uncompressed CRC-64,
 * so the proof survives gzip. A receipt that is corrupt, another object's, or whose parts do not recombine is
 * reported as a failed check (exit 1) and never used.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { startOssServer } from '../../local/oss/index.ts';
import { lastJson, runOssferry } from '../helpers/ossferry-bin.ts';

type Check = { what: string; expected: string; actual: string; ok: boolean };
type Outcome = { verified: boolean; archive: boolean; receipt: string; checks: Check[] };

let dir: string;
let dataDir: string;
const logs = generateLogLike(1024 * 1024 + 77, 9);
const plain = randomBytes(700_000);
let archiveReport: Record<string, unknown>;
let copyReport: Record<string, unknown>;

/** Runs `fn` against the data directory's OSS (the CLI is not running on it then). */
async function withOss<T>(fn: (client: (bucket: string) => OSS) => Promise<T>): Promise<T> {
  const oss = await startOssServer({ dataDir });
  try {
    return await fn((b) => new OSS({ ...oss.clientOptions(b), retryMax: 0 } as OSS.Options));
  } finally {
    await oss.close();
  }
}

/** The receipt key of a report's `receipt` location (oss://ossferry-status/jobs/<jobId>.receipt.json). */
const receiptKey = (report: Record<string, unknown>) => String(report.receipt).replace(/^oss:\/\/ossferry-status\//, '');

const verify = async (target: string, ...more: string[]) => {
  const r = await runOssferry(['verify', target, '--data-dir', dataDir, '--json', ...more]);
  return { code: r.code, outcome: lastJson(r.stdout) as unknown as Outcome, stderr: r.stderr };
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-receipt-test-'));
  dataDir = path.join(dir, 'cloud');
  await writeFile(path.join(dir, 'app.log'), logs);
  await writeFile(path.join(dir, 'plain.bin'), plain);
  const a = await runOssferry(['copy', path.join(dir, 'app.log'), 'oss://mybucket/app.log.gz', '--gzip', '--data-dir', dataDir, '--json']);
  expect(a.code).toBe(0);
  archiveReport = lastJson(a.stdout);
  const c = await runOssferry(['copy', path.join(dir, 'plain.bin'), 'oss://mybucket/plain.bin', '--part-size', '100KiB', '--data-dir', dataDir, '--json']);
  expect(c.code).toBe(0);
  copyReport = lastJson(c.stdout);
}, 120_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('receipts written by copy, checked by verify', () => {
  it('a finished job has a receipt next to its status object: source identity, each part, combined CRC == OSS, uncompressed CRC and task input CRCs', async () => {
    // Act
    const receipt = await withOss(async (client) => JSON.parse(((await client('ossferry-status').get(receiptKey(archiveReport))).content as Buffer).toString('utf8')) as Record<string, unknown>);
    // Assess
    expect(archiveReport.receipt).toBe(`oss://ossferry-status/jobs/${String(archiveReport.jobId)}.receipt.json`);
    expect(receipt).toMatchObject({ kind: 'ossferry-receipt', version: 1, mode: 'archive', jobId: archiveReport.jobId, object: { url: 'oss://mybucket/app.log.gz', crc64: archiveReport.crc64 } });
    expect(receipt.uncompressed).toEqual({ size: logs.length, crc64: crc64(logs).toString() });
    expect((receipt.source as { size: number }).size).toBe(logs.length);
    expect((receipt.parts as unknown[]).length).toBe(archiveReport.parts);
    expect((receipt.tasks as Array<{ size: number }>).reduce((a, t) => a + t.size, 0)).toBe(logs.length);
  });

  it('verify checks an archive against its receipt: parts recombine to OSS CRC-64, the decoded content matches the receipt (exit 0)', async () => {
    // Act
    const read = await verify('oss://mybucket/app.log.gz');
    const against = await verify('oss://mybucket/app.log.gz', '--against', path.join(dir, 'app.log'));
    // Assess
    expect(read.code).toBe(0);
    expect(read.outcome.receipt).toBe('checked');
    const byWhat = new Map(read.outcome.checks.map((c) => [c.what, c]));
    expect(byWhat.get('receipt parts recombined CRC-64 vs receipt object CRC-64')).toMatchObject({ ok: true, actual: archiveReport.crc64 });
    expect(byWhat.get('receipt task input CRC-64s recombined vs receipt uncompressed CRC-64')).toMatchObject({ ok: true, actual: crc64(logs).toString() });
    expect(byWhat.get('decoded content CRC-64 vs receipt uncompressed CRC-64')).toMatchObject({ ok: true, actual: crc64(logs).toString() });
    expect(against.code).toBe(0);
    expect(against.outcome.checks.find((c) => c.what === 'local file CRC-64 vs receipt uncompressed CRC-64')).toMatchObject({ ok: true });
  });

  it('verify checks a copy against its receipt (exit 0)', async () => {
    // Act
    const read = await verify('oss://mybucket/plain.bin');
    // Assess
    expect(read.code).toBe(0);
    expect(read.outcome.receipt).toBe('checked');
    expect(read.outcome.checks.find((c) => c.what === 'bytes read CRC-64 vs receipt object CRC-64')).toMatchObject({ ok: true, actual: crc64(plain).toString() });
    expect(read.outcome.checks.find((c) => c.what === 'receipt parts recombined CRC-64 vs receipt object CRC-64')).toMatchObject({ ok: true });
  });

  it('a same-region OSS → OSS copy prints its server-side path, and its receipt records it and verifies (exit 0)', async () => {
    // Act
    const copy = await runOssferry(['copy', 'oss://mybucket/plain.bin', 'oss://mybucket/plain-copy.bin', '--part-size', '100KiB', '--data-dir', dataDir]);
    const read = await verify('oss://mybucket/plain-copy.bin');
    // Assess
    expect(copy.code).toBe(0);
    expect(copy.stdout).toMatch(/path +server-side copy \(UploadPartCopy in the region\): 0 bytes through workers/);
    expect(read.code).toBe(0);
    expect(read.outcome.receipt).toBe('checked');
    const jobId = /job id +(j[0-9a-f]{32})/.exec(copy.stdout)![1]!;
    const receipt = await withOss(async (client) => JSON.parse(((await client('ossferry-status').get(`jobs/${jobId}.receipt.json`)).content as Buffer).toString('utf8')) as Record<string, unknown>);
    expect(receipt).toMatchObject({ mode: 'copy', path: 'server-copy', object: { url: 'oss://mybucket/plain-copy.bin', crc64: crc64(plain).toString() } });
    expect((receipt.parts as unknown[]).length).toBe(7);
  });

  it('a corrupt receipt, another object\'s receipt, and one whose part CRC was altered are reported, never trusted (exit 1)', async () => {
    // Prepare: three forged receipts at the archive job's receipt location, one at a time
    const key = receiptKey(archiveReport);
    const original = await withOss(async (client) => ((await client('ossferry-status').get(key)).content as Buffer).toString('utf8'));
    const foreign = await withOss(async (client) => ((await client('ossferry-status').get(receiptKey(copyReport))).content as Buffer).toString('utf8'));
    const altered = JSON.parse(original) as { parts: Array<{ crc64: string }> };
    altered.parts[0]!.crc64 = String(BigInt(altered.parts[0]!.crc64) ^ 1n);
    const run = async (body: string) => {
      await withOss(async (client) => void (await client('ossferry-status').put(key, Buffer.from(body))));
      return verify('oss://mybucket/app.log.gz');
    };
    // Act
    const corrupt = await run('{"kind":"ossferry-receipt","version":1,');
    const other = await run(foreign);
    const forged = await run(JSON.stringify(altered));
    await withOss(async (client) => void (await client('ossferry-status').put(key, Buffer.from(original))));
    // Assess
    expect(corrupt.code).toBe(1);
    expect(corrupt.outcome.receipt).toMatch(/^unusable: oss:\/\/ossferry-status\/jobs\/j[0-9a-f]{32}\.receipt\.json is not JSON$/);
    expect(corrupt.outcome.checks.find((c) => c.what === 'receipt')).toMatchObject({ ok: false });
    expect(other.code).toBe(1);
    expect(other.outcome.receipt).toBe("not this object's: not used");
    expect(other.outcome.checks.find((c) => c.what === 'receipt')).toMatchObject({ ok: false, actual: expect.stringMatching(/a receipt of oss:\/\/mybucket\/plain\.bin .*not used/) });
    expect(other.outcome.checks.some((c) => c.what.includes('vs receipt'))).toBe(false);
    expect(forged.code).toBe(1);
    expect(forged.outcome.checks.find((c) => c.what === 'receipt parts recombined CRC-64 vs receipt object CRC-64')).toMatchObject({ ok: false });
    // The object itself still verifies on its own checks.
    expect(forged.outcome.checks.find((c) => c.what === 'decoded content CRC-64 vs x-oss-meta-uncompressed-crc64')).toMatchObject({ ok: true });
  });
});
