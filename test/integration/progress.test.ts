/**
 * Progress and per-part logs through the whole local cloud (fc2 → gateway → coordinator and worker
 * processes → local OSS): an archive job of three tasks reports input bytes and compressed bytes as they
 * are really done (status object + ListParts), in more than two steps; the rate at the end is the windowed
 * one (shared/progress-rate.ts); each uploaded part is logged once by a worker with `bytes`, as the SLS
 * throughput chart sums them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { startLocalCloud, type LocalCloud, type LocalJobProgress } from '../../local/cloud.ts';
import { RATE_WINDOW_MS, pushSample, windowedRate, type ProgressSample } from '../../shared/progress-rate.ts';
import { uploadsLeft } from '../helpers/local-cloud.ts';

const MiB = 1024 * 1024;
/** 128 MiB + 128 MiB + 1 MiB: three archive tasks (each full task holds the proven minimum input). */
const ARCHIVE_SIZE = 257 * MiB;
const COPY_SIZE = 700 * 1024;

let cloud: LocalCloud;
let dir: string;
/** Worker output lines, parsed where they are JSON. */
const workerLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ossferry-progress-'));
  await writeFile(join(dir, 'big.log'), generateLogLike(ARCHIVE_SIZE, 12));
  await writeFile(join(dir, 'small.log'), generateLogLike(COPY_SIZE, 13));
  cloud = await startLocalCloud({
    sourceRoot: dir,
    workers: { maxInstances: 3, instanceConcurrency: 1 },
    onInstanceOutput: (line) => {
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.role === 'worker') workerLines.push(record);
      } catch {
        // not a log line (a runtime message): not counted
      }
    },
  });
}, 180_000);
afterAll(async () => {
  await cloud?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const partLines = (jobId: string) => workerLines.filter((l) => l.jobId === jobId && l.bytes !== undefined);

describe('progress that tells the truth, through the local cloud', () => {
  it('an archive job of three tasks reports input and compressed bytes in more than two steps; each part is logged once with bytes', async () => {
    // Prepare
    const seen: Array<{ atMs: number; p: LocalJobProgress }> = [];
    // Act
    const report = await cloud.submitJob(
      { source: cloud.httpSource.url('/big.log'), destination: `oss://${cloud.bucket}/progress/big.log.gz`, mode: 'archive', workers: 3, gzipLevel: 1 },
      { onProgress: (p) => seen.push({ atMs: Date.now(), p }), pollMs: 100 },
    );
    // Assess: the job
    expect(report.tasks).toBe(3);
    expect(await uploadsLeft(cloud.ossClient())).toBe(0);
    // Assess: progress is monotone on both sides and moves in more than two distinct steps
    const archive = seen.map((s) => s.p.archive!);
    expect(archive.every((a) => a !== undefined && a.tasks === 3)).toBe(true);
    for (let i = 1; i < archive.length; i++) {
      expect(archive[i]!.inputBytesDone).toBeGreaterThanOrEqual(archive[i - 1]!.inputBytesDone);
      expect(archive[i]!.compressedBytesStored).toBeGreaterThanOrEqual(archive[i - 1]!.compressedBytesStored);
    }
    const steps = new Set(archive.map((a) => `${a.inputBytesDone}/${a.compressedBytesStored}`));
    expect(steps.size).toBeGreaterThan(2);
    // Compressed bytes are seen stored before every task has finished (ListParts of tasks in flight).
    expect(archive.some((a) => a.tasksDone < 3 && a.compressedBytesStored > 0)).toBe(true);
    // Polls stop when the job answers, so the last one may predate the end: the finished job's own progress is whole.
    const final = (await cloud.progressOf(report.jobId))!.archive!;
    expect(final).toMatchObject({ tasksDone: 3, compressedBytesStored: report.compressedSize, inputBytesDone: ARCHIVE_SIZE });
    expect(archive.at(-1)!.compressedBytesStored).toBeLessThanOrEqual(report.compressedSize);
    // Assess: the rate at the end is a windowed one, never more than the whole input over the window
    const samples = seen.reduce<ProgressSample[]>((kept, s) => pushSample(kept, { atMs: s.atMs, done: s.p.bytes }), []);
    const span = seen.at(-1)!.atMs - seen[0]!.atMs;
    const rate = windowedRate(samples);
    expect(samples.at(-1)!.atMs - samples[0]!.atMs).toBeLessThanOrEqual(Math.max(span, 0) + 1);
    if (span > 0) {
      expect(rate).toBeGreaterThanOrEqual(0);
      expect(rate!).toBeLessThanOrEqual(((ARCHIVE_SIZE * 1000) / Math.min(span, RATE_WINDOW_MS)) * (1 + 1e-9));
    }
    // Assess: one worker line with `bytes` per compressed part, summing to the object
    const lines = partLines(report.jobId);
    expect(lines.every((l) => l.msg === 'part uploaded' && typeof l.seconds === 'number' && typeof l.partNumber === 'number')).toBe(true);
    // Archive tasks number their parts from their own slots (sparse), so count distinct numbers.
    expect(lines.length).toBe(report.parts);
    expect(new Set(lines.map((l) => l.partNumber)).size).toBe(report.parts);
    expect(lines.reduce((a, l) => a + (l.bytes as number), 0)).toBe(report.compressedSize);
  }, 300_000);

  it('a copy job logs one bytes line per part and reports bytes OSS holds', async () => {
    // Prepare
    const seen: LocalJobProgress[] = [];
    // Act
    const report = await cloud.submitJob(
      { source: cloud.httpSource.url('/small.log'), destination: `oss://${cloud.bucket}/progress/small.log`, partSize: 200 * 1024 },
      { onProgress: (p) => seen.push(p), pollMs: 50 },
    );
    // Assess
    expect(report.parts).toBe(4);
    const lines = partLines(report.jobId);
    expect(lines.map((l) => l.partNumber).sort()).toEqual([1, 2, 3, 4]);
    expect(lines.reduce((a, l) => a + (l.bytes as number), 0)).toBe(COPY_SIZE);
    expect(seen.every((p) => p.archive === undefined && p.bytes <= COPY_SIZE)).toBe(true);
  }, 120_000);
});
