import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseCopyTask, parseTask, parseWorkerResult, taskToWire, workerResultToWire, type CopyResult } from '../../shared/task.ts';

const wireTask = {
  jobId: 'j0123',
  uploadId: 'ABCDEF',
  destination: { bucket: 'dst', key: 'k' },
  source: { url: 'https://h.example/f', identity: { size: 300_000, etag: '"x"', crc64: '11051210869376104954' } },
  parts: [
    { partNumber: 1, start: 0, end: 102_400 },
    { partNumber: 2, start: 102_400, end: 300_000 },
  ],
  streams: 4,
};

describe('parseTask', () => {
  it('parses the wire form, CRC as bigint, mode defaulted', () => {
    // Act
    const task = parseTask(wireTask);
    // Assess
    expect(task.source.identity.crc64).toBe(11051210869376104954n);
    expect(task.mode).toBe('copy');
    expect(task.mode === 'copy' && task.parts).toHaveLength(2);
  });

  it('round-trips through taskToWire and JSON', () => {
    // Prepare
    const task = parseCopyTask(wireTask);
    // Act
    const again = parseTask(JSON.parse(JSON.stringify(taskToWire(task))));
    // Assess
    expect(again).toEqual(task);
  });

  it.each([
    ['task.uploadId', { ...wireTask, uploadId: undefined }, /^task\.uploadId: is required\. Fix: send the UploadId/],
    ['task.parts', { ...wireTask, parts: [] }, /^task\.parts: .*Fix: send 1\.\.10000 parts/],
    ['task.parts[1].partNumber', { ...wireTask, parts: [wireTask.parts[1], wireTask.parts[0]] }, /strictly ascending/],
    ['task.parts[1].end', { ...wireTask, parts: [wireTask.parts[0], { partNumber: 2, start: 102_400, end: 400_000 }] }, /beyond the source size/],
    ['task.parts[0].end', { ...wireTask, parts: [{ partNumber: 1, start: 5, end: 4 }] }, /end must be ≥ start/],
    ['task.source.identity.crc64', { ...wireTask, source: { ...wireTask.source, identity: { size: 1, crc64: 'abc' } } }, /Fix: send the CRC-64 as an unsigned decimal string/],
    ['task.streams', { ...wireTask, streams: 0 }, /^task\.streams: /],
    ['task.source.url', { ...wireTask, source: { ...wireTask.source, url: 'ftp://h.example/f' } }, /^task\.source\.url: scheme ftp: is not supported\. Fix: send the job's source URL \(http:\/\/host\/path, /],
  ])('names %s in the error', (field, input, message) => {
    // Act
    let caught: unknown;
    try {
      parseTask(input);
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe(field);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('worker result', () => {
  it('round-trips receipts with bigint CRCs through JSON', () => {
    // Prepare
    const result: CopyResult = {
      mode: 'copy',
      receipts: [{ partNumber: 1, etag: '"AB"', size: 102_400, crc64: 18446744073709551615n }],
      unfinished: [2, 3],
      errors: [{ partNumber: 2, code: 'Integrity', message: 'crc mismatch', retryable: true }],
    };
    // Act
    const parsed = parseWorkerResult(JSON.parse(JSON.stringify(workerResultToWire(result))), 'copy');
    // Assess
    expect(parsed).toEqual(result);
  });

  it('refuses a receipt with a non-decimal CRC, naming it', () => {
    // Act
    const act = () => parseWorkerResult({ receipts: [{ partNumber: 1, etag: 'e', size: 1, crc64: '-1' }], unfinished: [], errors: [] }, 'copy');
    // Assess
    expect(act).toThrow(/^result\.receipts\[0\]\.crc64: /);
  });
});
