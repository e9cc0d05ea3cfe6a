import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../functions/status/store.ts';
import { progressOf, type JobProgress } from '../../functions/status/progress.ts';
import { progressDisplay, progressFigures } from '../../cli/progress.ts';

const receipt = (partNumber: number, size: number) => ({ partNumber, etag: `"e${partNumber}"`, size, crc64: 1n });

function status(over: Partial<JobStatus>): JobStatus {
  return {
    version: 1,
    jobId: 'j' + '0'.repeat(32),
    state: 'running',
    source: 'http://127.0.0.1/x',
    sourceIdentity: { size: 1000 },
    destination: 'oss://b/k',
    uploadId: 'U',
    size: 1000,
    partSize: 100,
    partCount: 10,
    parts: [],
    bytesDone: 0,
    rounds: 1,
    startedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:01Z',
    attempts: 1,
    ...over,
  };
}

describe('progressOf (status object + ListParts)', () => {
  it('copy: a part counts once, listed or receipted, so parts not yet receipted count as stored', () => {
    // Prepare: receipts for 1 and 2; OSS lists 2 and 3 (3 uploaded, its worker not returned yet)
    const s = status({ parts: [receipt(1, 100), receipt(2, 100)], bytesDone: 200 });
    // Act
    const p = progressOf(s, [{ partNumber: 2, etag: '"e2"', size: 100 }, { partNumber: 3, etag: '"e3"', size: 100 }]);
    // Assess
    expect(p.bytes).toBe(300);
    expect(p.parts).toBe(3);
    expect(p.archive).toBeUndefined();
  });

  it('archive: input bytes of finished tasks, compressed bytes of every stored part including tasks in flight', () => {
    // Prepare: task 0 finished (input 600, two parts of 40); task 1 in flight with one part stored
    const task = { index: 0, start: 0, uncompressedSize: 600, uncompressedCrc64: 1n, compressedSize: 80, members: 2, receipts: [receipt(1, 40), receipt(2, 40)] };
    const s = status({ mode: 'archive', partCount: 2, parts: task.receipts, tasks: [task], bytesDone: 600 });
    // Act
    const p = progressOf(s, [{ partNumber: 1, etag: '"e1"', size: 40 }, { partNumber: 2, etag: '"e2"', size: 40 }, { partNumber: 10, etag: '"e10"', size: 30 }]);
    // Assess
    expect(p.bytes).toBe(600);
    expect(p.archive).toEqual({ inputBytesDone: 600, compressedBytesStored: 110, tasksDone: 1, tasks: 2 });
  });

  it('archive, succeeded: the whole input and the reported compressed size', () => {
    // Act
    const p = progressOf(status({ mode: 'archive', state: 'succeeded', partCount: 2, bytesDone: 1000, report: { compressedSize: 123 } }), undefined);
    // Assess
    expect(p.archive).toEqual({ inputBytesDone: 1000, compressedBytesStored: 123, tasksDone: 2, tasks: 2 });
  });
});

describe('CLI progress figures', () => {
  const snapshot = (bytes: number, archive?: JobProgress['archive']): JobProgress => ({ ...progressOf(status({ size: 200_000_000 }), undefined), bytes, ...(archive ? { archive } : {}) });

  it('shows the windowed rate and the ETA from it, not an average since the start', () => {
    // Prepare: 10 MB/s for 10 s, then a 10 s pause (the average since the start would say 5 MB/s)
    let now = 0;
    const figures = progressFigures(() => now);
    let f = figures(snapshot(0));
    // Act
    for (let t = 1; t <= 10; t++) ((now = t * 1000), (f = figures(snapshot(t * 10_000_000))));
    const running = f;
    for (let t = 11; t <= 20; t++) ((now = t * 1000), (f = figures(snapshot(100_000_000))));
    // Assess
    expect(running.mbps).toBe('10.0');
    expect(running.etaText).toBe('10s');
    expect(f.mbps).toBe('0.0');
    expect(f.etaText).toBe('--');
  });

  it('archive: shows compressed bytes stored and tasks alongside the input', () => {
    // Prepare
    const figures = progressFigures(() => 0);
    // Act
    const f = figures(snapshot(50_000_000, { inputBytesDone: 50_000_000, compressedBytesStored: 2048, tasksDone: 1, tasks: 3 }));
    // Assess
    expect(f.extra).toMatch(/^gzip 2\.00 KiB stored \(-- MB\/s\), tasks 1\/3$/);
    expect(f.percent).toBe('25.0');
  });

  it('writes a line at most every 2 s without a TTY', () => {
    // Prepare
    let now = 0;
    const written: string[] = [];
    const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const display = progressDisplay(stream, () => now);
    // Act
    for (let t = 0; t <= 4000; t += 500) ((now = t), display.update(snapshot(t * 1000)));
    // Assess
    expect(written).toHaveLength(3);
    expect(written[0]).toMatch(/^progress 0\.0% .* ETA --\n$/);
  });
});
