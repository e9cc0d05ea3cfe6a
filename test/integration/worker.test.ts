import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64, crc64Combine } from '../../shared/crc64/index.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { createLogger, silentLogger, type Logger } from '../../shared/log.ts';
import { OSS as LIMITS } from '../../shared/limits.ts';
import { planJob, type PartRange } from '../../shared/plan.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { parseWorkerResult, taskToWire, parseCopyTask, type CopyTask, type PartReceipt } from '../../shared/task.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import { openSource } from '../../functions/sources/index.ts';
import { SourceChangedError, SourceUnavailableError, type RangeSource } from '../../functions/sources/types.ts';
import { runCopyTask, type CopyWorkerDeps } from '../../functions/worker/copy.ts';
import { copyWorkerDeps, handler } from '../../functions/worker/handler.ts';
import { workerContext } from '../helpers/fc-context.ts';

const KB100 = LIMITS.MIN_PART_SIZE;
const fastRetry = { baseMs: 2, maxMs: 20, maxAttempts: 10 };
const allow = parseAllowList('127.0.0.1');

let oss: LocalOss;
let http: HttpSourceServer;
let client: OSS;

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['dst'] });
  http = await startHttpSourceServer();
  client = new OSS(oss.clientOptions('dst'));
});
afterAll(async () => {
  await http.close();
  await oss.close();
});

/** Puts `data` on the HTTP source, initiates an upload and builds a one-task plan over all parts. */
async function prepare(name: string, data: Buffer, streams = 4): Promise<{ task: CopyTask; sink: OssPartSink; parts: PartRange[] }> {
  http.setFile(`/${name}`, data);
  const src = openSource(http.url(`/${name}`), { allow });
  const identity = await src.stat();
  await src.close();
  const plan = planJob(data.length, { partSize: KB100, streamsPerWorker: streams, maxWorkers: 1 });
  const sink = new OssPartSink({ client, bucket: 'dst', key: `out/${name}` });
  const uploadId = await sink.initiate();
  const task = parseCopyTask(
    taskToWire({ mode: 'copy', jobId: `job-${name}`, uploadId, destination: { bucket: 'dst', key: `out/${name}` }, source: { url: http.url(`/${name}`), identity }, parts: plan.parts, streams }),
  );
  return { task, sink, parts: plan.parts };
}

function deps(extra: Partial<CopyWorkerDeps> = {}, logger: Logger = silentLogger): CopyWorkerDeps {
  return {
    openSource: (url) => openSource(url, { allow }),
    partSinkFor: (t) => new OssPartSink({ client, bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId }),
    logger,
    retryPolicy: fastRetry,
    ...extra,
  };
}

const combine = (receipts: PartReceipt[]) => receipts.reduce((acc, r) => crc64Combine(acc, r.crc64, r.size), 0n);

describe('runCopyTask end to end (local OSS + local HTTP source)', () => {
  it.each([
    ['0 B', 0],
    ['1 B', 1],
    ['100 KB - 1', KB100 - 1],
    ['100 KB', KB100],
    ['100 KB + 1', KB100 + 1],
    ['multi-part (11 parts)', 10 * KB100 + 777],
  ])('%s: every part uploaded, part CRCs combine to the whole-file CRC', async (name, size) => {
    // Prepare
    const data = randomBytes(size);
    const { task, sink, parts } = await prepare(`f${size}.bin`, data);
    // Act
    const result = await runCopyTask(task, deps());
    const done = await sink.complete(result.receipts.map((r) => ({ partNumber: r.partNumber, etag: r.etag })));
    // Assess
    expect(result.unfinished).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(result.receipts.map((r) => r.partNumber)).toEqual(parts.map((p) => p.partNumber));
    expect(result.receipts.map((r) => r.size)).toEqual(parts.map((p) => p.end - p.start));
    expect(combine(result.receipts)).toBe(crc64(data));
    expect(done.crc64).toBe(crc64(data));
    const stored = (await client.get(`out/f${size}.bin`)).content as Buffer;
    expect(Buffer.compare(stored, data)).toBe(0);
  });

  it('a source changed mid-task fails fast with SourceChangedError', async () => {
    // Prepare
    const data = randomBytes(8 * KB100);
    const { task, sink } = await prepare('changing.bin', data, 1);
    let reads = 0;
    const wrapped: CopyWorkerDeps['openSource'] = (url) => {
      const real = openSource(url, { allow });
      const source: RangeSource = {
        displayUrl: real.displayUrl,
        stat: (s) => real.stat(s),
        close: () => real.close(),
        read: async (start, end, pin, signal) => {
          // The file is replaced on the origin after the second part has been read.
          if (++reads === 3) http.mutateFile('/changing.bin', start);
          return real.read(start, end, pin, signal);
        },
      };
      return source;
    };
    // Act
    const act = runCopyTask(task, deps({ openSource: wrapped }));
    // Assess
    await expect(act).rejects.toBeInstanceOf(SourceChangedError);
    expect(reads).toBe(3);
    await sink.abort();
  });

  it('deadline: stops taking parts and returns partial receipts plus the unfinished parts', async () => {
    // Prepare: a clock that jumps past the stop time once the first part is done
    const data = randomBytes(6 * KB100);
    const { task, sink } = await prepare('deadline.bin', data, 1);
    let clock = 1_000_000;
    const real = deps();
    const d = deps({
      now: () => clock,
      deadlineMs: clock + 600_000,
      safetyMarginMs: 30_000,
      partSinkFor: (t) => {
        const s = real.partSinkFor(t);
        const upload = s.uploadPart.bind(s);
        s.uploadPart = async (...args) => {
          const r = await upload(...args);
          clock += 580_000;
          return r;
        };
        return s;
      },
    });
    // Act
    const result = await runCopyTask(task, d);
    // Assess
    expect(result.receipts.map((r) => r.partNumber)).toEqual([1]);
    expect(result.unfinished).toEqual([2, 3, 4, 5, 6]);
    expect((await sink.listParts()).map((p) => p.partNumber)).toEqual([1]);
    await sink.abort();
  });

  it('OSS 503 SlowDown on UploadPart is retried with backoff and the task succeeds', async () => {
    // Prepare
    const data = randomBytes(5 * KB100 + 3);
    const { task, sink } = await prepare('slowdown.bin', data, 1);
    const lines: string[] = [];
    const logger = createLogger({}, { level: 'debug', sink: (l) => lines.push(l) });
    oss.setFaults({ seed: 7, operations: { UploadPart: { slowDownRate: 0.4 } } });
    // Act
    let result;
    try {
      result = await runCopyTask(task, deps({}, logger));
    } finally {
      oss.setFaults({});
    }
    const done = await sink.complete(result.receipts.map((r) => ({ partNumber: r.partNumber, etag: r.etag })));
    // Assess
    const retries = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'part retry');
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((l) => l.jobId === 'job-slowdown.bin' && l.error.code === 'SlowDown')).toBe(true);
    expect(result.unfinished).toEqual([]);
    expect(done.crc64).toBe(crc64(data));
  });

  it('refuses a task of another mode, naming task.mode', async () => {
    // Prepare
    const { task, sink } = await prepare('archive.bin', randomBytes(10), 1);
    // Act
    const act = runCopyTask({ ...task, mode: 'archive' } as unknown as CopyTask, deps());
    // Assess
    await expect(act).rejects.toThrow(/^task\.mode: "archive" is not a copy task/);
    await sink.abort();
  });
});

/** Opens the real source, recording every read's start and every body it hands out (keyed by part start). */
function observedSource(events: string[], bodies: Readable[], partOf: (start: number) => number, onRead?: (n: number, body: Readable) => void): CopyWorkerDeps['openSource'] {
  return (url) => {
    const real = openSource(url, { allow });
    return {
      displayUrl: real.displayUrl,
      stat: (s) => real.stat(s),
      close: async () => {
        events.push('close');
        await real.close();
      },
      read: async (start, end, pin, signal) => {
        const n = partOf(start);
        events.push(`read ${n}`);
        const body = await real.read(start, end, pin, signal);
        bodies.push(body);
        onRead?.(n, body);
        return body;
      },
    };
  };
}

/** The real part sink, recording when each upload ends. */
function observedSink(events: string[]): CopyWorkerDeps['partSinkFor'] {
  const real = deps().partSinkFor;
  return (t) => {
    const s = real(t);
    const upload = s.uploadPart.bind(s);
    s.uploadPart = async (n, ...rest) => {
      try {
        return await upload(n, ...rest);
      } finally {
        events.push(`uploaded ${n}`);
      }
    };
    return s;
  };
}

describe('runCopyTask prefetch (the next part is read while the current one uploads)', () => {
  it('a stream sends part n+1\'s source request before part n\'s upload ends; part CRCs still combine', async () => {
    // Prepare
    const data = randomBytes(6 * KB100 + 11);
    const { task, sink, parts } = await prepare('prefetch-order.bin', data, 1);
    const events: string[] = [];
    const partOf = (start: number) => parts.find((p) => p.start === start)!.partNumber;
    // Act
    const result = await runCopyTask(task, deps({ openSource: observedSource(events, [], partOf), partSinkFor: observedSink(events) }));
    const done = await sink.complete(result.receipts.map((r) => ({ partNumber: r.partNumber, etag: r.etag })));
    // Assess
    for (let n = 2; n <= parts.length; n++) {
      expect(events.indexOf(`read ${n}`)).toBeGreaterThan(-1);
      expect(events.indexOf(`read ${n}`)).toBeLessThan(events.indexOf(`uploaded ${n - 1}`));
    }
    expect(result.unfinished).toEqual([]);
    expect(combine(result.receipts)).toBe(crc64(data));
    expect(done.crc64).toBe(crc64(data));
  });

  it('without prefetch a stream reads a part only after the previous upload ended', async () => {
    // Prepare
    const data = randomBytes(4 * KB100);
    const { task, sink, parts } = await prepare('prefetch-off.bin', data, 1);
    const events: string[] = [];
    const partOf = (start: number) => parts.find((p) => p.start === start)!.partNumber;
    // Act
    const result = await runCopyTask(task, deps({ prefetch: false, openSource: observedSource(events, [], partOf), partSinkFor: observedSink(events) }));
    // Assess
    expect(events).toEqual(['read 1', 'uploaded 1', 'read 2', 'uploaded 2', 'read 3', 'uploaded 3', 'read 4', 'uploaded 4', 'close']);
    expect(result.unfinished).toEqual([]);
    await sink.abort();
  });

  it('memory stays bounded: at most one part per stream is read ahead', async () => {
    // Prepare
    const streams = 3;
    const data = randomBytes(15 * KB100);
    const { task, sink, parts } = await prepare('prefetch-bound.bin', data, streams);
    const events: string[] = [];
    const partOf = (start: number) => parts.find((p) => p.start === start)!.partNumber;
    // Act
    const result = await runCopyTask(task, deps({ openSource: observedSource(events, [], partOf), partSinkFor: observedSink(events) }));
    // Assess: parts whose read began and whose upload has not ended, at every step
    let open = 0;
    let most = 0;
    for (const e of events) {
      if (e.startsWith('read ')) most = Math.max(most, ++open);
      if (e.startsWith('uploaded ')) open--;
    }
    expect(most).toBeLessThanOrEqual(2 * streams);
    expect(most).toBeGreaterThan(streams);
    expect(result.receipts).toHaveLength(parts.length);
    await sink.abort();
  });

  it('an abort while a part is read ahead closes its body and the source: nothing is left open', async () => {
    // Prepare
    const data = randomBytes(4 * KB100);
    const { task, sink, parts } = await prepare('prefetch-abort.bin', data, 1);
    const events: string[] = [];
    const bodies: Readable[] = [];
    const partOf = (start: number) => parts.find((p) => p.start === start)!.partNumber;
    const stop = new AbortController();
    // The read-ahead of part 2 has its body (part 1 is still uploading) when the job is cancelled.
    const openSourceHook = observedSource(events, bodies, partOf, (n) => {
      if (n === 2) stop.abort(new Error('cancelled'));
    });
    // Act
    const result = await runCopyTask(task, deps({ signal: stop.signal, openSource: openSourceHook, partSinkFor: observedSink(events) }));
    await new Promise((r) => setImmediate(r));
    // Assess
    expect(events.slice(0, 2)).toEqual(['read 1', 'read 2']);
    expect(events).toContain('close');
    expect(bodies).toHaveLength(2);
    expect(bodies.every((b) => b.destroyed)).toBe(true);
    expect(result.receipts.map((r) => r.partNumber)).not.toContain(2);
    expect(result.unfinished).toEqual(expect.arrayContaining([2, 3, 4]));
    await sink.abort();
    await expect(sink.listParts()).rejects.toMatchObject({ code: 'NoSuchUpload' });
  });

  it('a read-ahead body that breaks while it waits is read again: the part is retried, not hung', async () => {
    // Prepare
    const data = randomBytes(3 * KB100 + 5);
    const { task, sink, parts } = await prepare('prefetch-broken.bin', data, 1);
    const events: string[] = [];
    const partOf = (start: number) => parts.find((p) => p.start === start)!.partNumber;
    let broken = false;
    const openSourceHook = observedSource(events, [], partOf, (n, body) => {
      if (n === 2 && !broken) {
        broken = true;
        body.destroy(new SourceUnavailableError('connection reset while waiting'));
      }
    });
    // Act
    const result = await runCopyTask(task, deps({ openSource: openSourceHook, partSinkFor: observedSink(events) }));
    const done = await sink.complete(result.receipts.map((r) => ({ partNumber: r.partNumber, etag: r.etag })));
    // Assess
    expect(events.filter((e) => e === 'read 2')).toHaveLength(2);
    expect(result.unfinished).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(done.crc64).toBe(crc64(data));
  });

  it('the handler turns prefetch off with OSSFERRY_PREFETCH=off and leaves it on otherwise', async () => {
    // Prepare
    const { task, sink } = await prepare('prefetch-env.bin', randomBytes(10), 1);
    const context = workerContext({ accessKeyId: oss.accessKeyId, accessKeySecret: oss.accessKeySecret }, oss.region);
    const env = { OSSFERRY_OSS_ENDPOINT: oss.endpoint, OSSFERRY_ALLOWED_SOURCE_HOSTS: '127.0.0.1' };
    // Act
    const off = copyWorkerDeps(task, context, { ...env, OSSFERRY_PREFETCH: 'off' });
    const on = copyWorkerDeps(task, context, env);
    // Assess
    expect(off.prefetch).toBe(false);
    expect(on.prefetch).toBe(true);
    await sink.abort();
  });
});

describe('worker handler', () => {
  const context = () => workerContext({ accessKeyId: oss.accessKeyId, accessKeySecret: oss.accessKeySecret }, oss.region);

  it('runs a task event with credentials from the context and answers the wire result', async () => {
    // Prepare
    const data = randomBytes(3 * KB100 + 5);
    const { task, sink } = await prepare('handler.bin', data, 2);
    const saved = { ...process.env };
    process.env.OSSFERRY_OSS_ENDPOINT = oss.endpoint;
    process.env.OSSFERRY_ALLOWED_SOURCE_HOSTS = '127.0.0.1';
    // Act
    let answer: unknown;
    try {
      answer = await handler(Buffer.from(JSON.stringify(taskToWire(task))), context());
    } finally {
      process.env = saved;
    }
    const result = parseWorkerResult(JSON.parse(JSON.stringify(answer)), 'copy');
    const done = await sink.complete(result.receipts.map((r) => ({ partNumber: r.partNumber, etag: r.etag })));
    // Assess
    expect(result.receipts).toHaveLength(4);
    expect(done.crc64).toBe(crc64(data));
  });

  it('an invalid event → InvalidInputError naming the field', async () => {
    // Prepare
    const event = Buffer.from(JSON.stringify({ jobId: 'j', uploadId: 'u', destination: { bucket: 'dst', key: 'k' }, source: { url: 'http://x/', identity: { size: 1 } }, parts: [], streams: 1 }));
    // Act
    const act = handler(event, context());
    // Assess
    await expect(act).rejects.toBeInstanceOf(InvalidInputError);
    await expect(act).rejects.toThrow(/^task\.parts: /);
  });

  it('a non-JSON event → InvalidInputError naming task', async () => {
    // Act
    const act = handler(Buffer.from('not json'), context());
    // Assess
    await expect(act).rejects.toThrow(/^task: the event is not JSON/);
  });
});
