import { describe, expect, it } from 'vitest';
import { failJob, type FailingJob } from '../../functions/engine/abort.ts';
import { JobFailedError } from '../../functions/engine/errors.ts';
import type { PartSink } from '../../functions/oss/types.ts';
import { StatusWriter, type JobStatus } from '../../functions/status/store.ts';
import { createLogger } from '../../shared/log.ts';
import { SourceChangedError } from '../../functions/sources/types.ts';

/** A part sink whose abort() and listParts() answer as told; it counts the aborts. */
function fakeSink(listParts: () => Promise<never>): PartSink & { aborts: number } {
  const unused = (): never => {
    throw new Error('not used by failJob');
  };
  return {
    bucket: 'dst',
    key: 'out.bin',
    uploadId: 'up-1',
    aborts: 0,
    async abort() {
      this.aborts++;
    },
    listParts,
    initiate: unused,
    uploadPart: unused,
    complete: unused,
  };
}

function failingJob(sink: PartSink, label: string): FailingJob & { logs: Array<Record<string, unknown>>; saves: number } {
  const logs: Array<Record<string, unknown>> = [];
  const status: JobStatus = {
    version: 1,
    jobId: 'job-1',
    state: 'running',
    source: 'https://example.test/in.bin',
    sourceIdentity: { size: 10 },
    destination: 'oss://dst/out.bin',
    uploadId: 'up-1',
    size: 10,
    partSize: 10,
    partCount: 1,
    parts: [],
    bytesDone: 0,
    rounds: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    attempts: 1,
  };
  const job = {
    label,
    jobId: 'job-1',
    uploadId: 'up-1',
    dest: 'oss://dst/out.bin',
    sink,
    log: createLogger({}, { sink: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) }),
    status,
    saves: 0,
    save() {
      job.saves++;
    },
    writer: new StatusWriter(undefined),
    logs,
  };
  return job;
}

const gone = Object.assign(new Error('The specified upload does not exist.'), { code: 'NoSuchUpload', status: 404 });
const denied = Object.assign(new Error('Access denied.'), { code: 'AccessDenied', status: 403 });

describe('failJob (the failure path of copy and archive jobs)', () => {
  it('aborts the upload, records the failure and throws JobFailedError saying nothing was written', async () => {
    // Prepare
    const sink = fakeSink(() => Promise.reject(gone));
    const job = failingJob(sink, 'archive job');
    const cause = new SourceChangedError('ETag changed');
    // Act
    const err = await failJob(job, cause).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err).toMatchObject({ jobId: 'job-1', uploadId: 'up-1', aborted: true, cause, causeCode: 'SourceChanged' });
    expect((err as Error).message).toBe('archive job job-1 failed: ETag changed; multipart upload up-1 aborted, nothing written to oss://dst/out.bin');
    expect(sink.aborts).toBe(1);
    expect(job.status).toMatchObject({ state: 'failed', aborted: true, error: { code: 'SourceChanged', message: 'ETag changed' } });
    expect(job.saves).toBe(1);
    expect(job.logs.find((l) => l.msg === 'archive job failed')).toMatchObject({ aborted: true, uploadId: 'up-1' });
  });

  it('says so, and how to clean up, when the upload cannot be confirmed gone after three aborts', async () => {
    // Prepare
    const sink = fakeSink(() => Promise.reject(denied));
    const job = failingJob(sink, 'job');
    // Act
    const err = await failJob(job, new Error('worker crashed')).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).aborted).toBe(false);
    expect((err as Error).message).toBe('job job-1 failed: worker crashed; ABORTING multipart upload up-1 FAILED — abort it by hand or let the lifecycle rule remove it');
    expect(sink.aborts).toBe(3);
    expect(job.status).toMatchObject({ state: 'failed', aborted: false });
    expect(job.logs.filter((l) => l.msg === 'abort of the multipart upload failed')).toHaveLength(3);
  });
});
