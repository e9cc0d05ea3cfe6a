/**
 * OSS trigger events → archives (handleOssEvent + the engine's runJob) against the real local OSS, with workers
 * run in-process through their wire schemas. Duplicate deliveries (sequential and concurrent) yield one
 * archive; records without a rule and non-creating events are ignored with reasons; a source deleted after
 * a verified archive makes a redelivered event report alreadyArchived.
 */
import OSS from 'ali-oss';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { parseArchiveRules } from '../../shared/archive-rules.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { normalizeEtag } from '../../shared/events.ts';
import { createLogger, silentLogger } from '../../shared/log.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import { ossStatusStore } from '../../functions/status/store.ts';
import { classifyDispatchError } from '../../functions/engine/dispatch.ts';
import { handleOssEvent, type OssEventDeps } from '../../functions/coordinator/trigger.ts';
import { runJob } from '../../functions/engine/lifecycle.ts';
import type { EngineDeps } from '../../functions/engine/types.ts';
import { ARCHIVE_META } from '../../shared/verify.ts';
import { openTaskSource } from '../../functions/worker/source.ts';
import { parseArchiveTask, parseWorkerResult, workerResultToWire } from '../../shared/task.ts';
import { runArchiveTask } from '../../functions/worker/archive.ts';

let oss: LocalOss;
let client: (bucket: string) => OSS;

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['logs-src', 'logs-dst', 'ossferry-status'], fsync: false });
  const clients = new Map<string, OSS>();
  client = (b) => clients.get(b) ?? (clients.set(b, new OSS({ ...oss.clientOptions(b), retryMax: 0 } as OSS.Options)), clients.get(b)!);
});
afterAll(async () => {
  await oss?.close();
});

const rules = parseArchiveRules([
  { name: 'logs', sourceBucket: 'logs-src', sourcePrefix: 'incoming/', destinationBucket: 'logs-dst', destinationPrefix: 'archive/' },
  { name: 'drop', sourceBucket: 'logs-src', sourcePrefix: 'drop/', destinationBucket: 'logs-dst', destinationPrefix: 'dropped/', deleteSourceAfterVerify: true, gzipLevel: 2 },
]);

function jobDeps(withStatus: boolean, counter: { dispatched: number }): EngineDeps {
  const allow = parseAllowList('127.0.0.1');
  return {
    logger: silentLogger,
    openSource: (job) => openTaskSource(job.source.url, { allow, ossClientFor: (b) => client(b) }),
    destinationClient: client('logs-dst'),
    sourceClientFor: (b) => client(b),
    workerTimeoutSeconds: 600,
    ...(withStatus ? { status: ossStatusStore(client('ossferry-status'), { bucket: 'ossferry-status', prefix: 'jobs' }) } : {}),
    dispatch: async (wire) => {
      counter.dispatched++;
      try {
        const task = parseArchiveTask(JSON.parse(JSON.stringify(wire)));
        const result = await runArchiveTask(task, {
          logger: silentLogger,
          openSource: (t) => openTaskSource(t.source.url, { allow, ossClientFor: (b) => client(b) }),
          partSinkFor: (t) => new OssPartSink({ client: client(t.destination.bucket), bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId }),
        });
        return { kind: 'result', result: parseWorkerResult(JSON.parse(JSON.stringify(workerResultToWire(result))), 'archive') };
      } catch (err) {
        return classifyDispatchError(err);
      }
    },
  };
}

function eventDeps(withStatus = false, counter = { dispatched: 0 }, lines: string[] = []): OssEventDeps {
  const deps = jobDeps(withStatus, counter);
  return { rules, logger: createLogger({}, { sink: (l) => lines.push(l) }), runJob: (job, options) => runJob(job, deps, options) };
}

async function putAndEvent(key: string, data: Buffer, eventName = 'ObjectCreated:PutObject') {
  const put = await client('logs-src').put(key, data);
  const etag = String((put.res.headers as Record<string, string>).etag).replace(/"/g, '');
  return {
    events: [
      {
        eventName,
        eventSource: 'acs:oss',
        eventTime: new Date().toISOString(),
        eventVersion: '1.0',
        oss: { bucket: { name: 'logs-src' }, object: { key, size: data.length, eTag: etag, deltaSize: data.length }, ossSchemaVersion: '1.0' },
        region: 'cn-hangzhou',
      },
    ],
  };
}

async function uploadsLeft(): Promise<number> {
  return ((await client('logs-dst').listUploads({})).uploads ?? []).length;
}

describe('handleOssEvent', () => {
  it('the same event delivered twice yields one archive; the second reports alreadyArchived', async () => {
    // Prepare
    const data = generateLogLike(2 * 1024 * 1024, 21);
    const event = await putAndEvent('incoming/a.log', data);
    const counter = { dispatched: 0 };
    const deps = eventDeps(false, counter);
    // Act
    const first = await handleOssEvent(JSON.stringify(event), deps);
    const dispatchedAfterFirst = counter.dispatched;
    const second = await handleOssEvent(Buffer.from(JSON.stringify(event)), deps);
    // Assess
    expect(first).toMatchObject({ archived: 1, alreadyArchived: 0, failed: 0 });
    expect(second).toMatchObject({ archived: 0, alreadyArchived: 1, failed: 0 });
    expect(counter.dispatched).toBe(dispatchedAfterFirst);
    expect(second.results[0]!.idempotencyKey).toBe(first.results[0]!.idempotencyKey);
    const head = await client('logs-dst').head('archive/a.log.gz');
    const meta = head.meta as unknown as Record<string, string>;
    expect(normalizeEtag(meta['source-etag']!)).toBe(normalizeEtag(event.events[0]!.oss.object.eTag));
    expect(meta[ARCHIVE_META.UNCOMPRESSED_CRC64]).toBe(crc64(data).toString(10));
    expect(Buffer.compare(gunzipSync((await client('logs-dst').get('archive/a.log.gz')).content as Buffer), data)).toBe(0);
  });

  it('two concurrent deliveries of one event upload one archive and leave no multipart upload behind', async () => {
    // Prepare
    const data = generateLogLike(3 * 1024 * 1024, 22);
    const event = await putAndEvent('incoming/b.log', data, 'ObjectCreated:CompleteMultipartUpload');
    // Act: with and without a status store (the status object or Complete's forbid-overwrite decides)
    const [x, y] = await Promise.all([handleOssEvent(event, eventDeps(true)), handleOssEvent(event, eventDeps(true))]);
    // Assess
    expect(x.archived + y.archived).toBe(1);
    expect(x.alreadyArchived + y.alreadyArchived + x.inProgress + y.inProgress).toBe(1);
    expect(x.failed + y.failed).toBe(0);
    expect(await uploadsLeft()).toBe(0);
    expect(Buffer.compare(gunzipSync((await client('logs-dst').get('archive/b.log.gz')).content as Buffer), data)).toBe(0);
  });

  it('records without a rule, non-creating events and directory markers are logged and ignored', async () => {
    // Prepare
    const lines: string[] = [];
    const body = {
      events: [
        (await putAndEvent('elsewhere/c.log', Buffer.from('c'))).events[0],
        { ...(await putAndEvent('incoming/d.log', Buffer.from('d'))).events[0], eventName: 'ObjectCreated:UploadPart' },
        { ...(await putAndEvent('incoming/dir/', Buffer.alloc(0))).events[0] },
      ],
    };
    // Act
    const r = await handleOssEvent(body, eventDeps(false, { dispatched: 0 }, lines));
    // Assess
    expect(r.results).toEqual([]);
    expect(r.ignored.map((i) => i.reason)).toEqual([
      expect.stringMatching(/no archive rule matches oss:\/\/logs-src\/elsewhere\/c\.log/),
      expect.stringMatching(/UploadPart does not create a complete object/),
      expect.stringMatching(/directory marker/),
    ]);
    expect(lines.filter((l) => l.includes('trigger record ignored'))).toHaveLength(3);
  });

  it('a redelivery after the archived source was deleted finds the archive and reports alreadyArchived', async () => {
    // Prepare
    const data = generateLogLike(256 * 1024, 29);
    const event = await putAndEvent('incoming/gone.log', data);
    const first = await handleOssEvent(event, eventDeps());
    await client('logs-src').delete('incoming/gone.log');
    // Act
    const again = await handleOssEvent(event, eventDeps());
    // Assess
    expect(first).toMatchObject({ archived: 1, failed: 0 });
    expect(again).toMatchObject({ alreadyArchived: 1, failed: 0 });
    expect(Buffer.compare(gunzipSync((await client('logs-dst').get('archive/gone.log.gz')).content as Buffer), data)).toBe(0);
  });

  it('deleteSourceAfterVerify on a source bucket without versioning: the record is refused before any upload, the source untouched', async () => {
    // Prepare
    const data = generateLogLike(1024 * 1024, 23);
    const event = await putAndEvent('drop/e.log', data);
    // Act
    const r = await handleOssEvent(event, eventDeps());
    // Assess
    expect(r).toMatchObject({ archived: 0, failed: 1 });
    expect(r.results[0]!.error).toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/^deleteSourceAfterVerify: refused for oss:\/\/logs-src\/drop\/e\.log: versioning is not enabled .*Fix: enable versioning on the source bucket/) });
    expect(Buffer.compare((await client('logs-src').get('drop/e.log')).content as Buffer, data)).toBe(0);
    await expect(client('logs-dst').head('dropped/e.log.gz')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft()).toBe(0);
  });

  it('a record that fails transiently (source HEAD throttled) fails the invocation so FC delivers again; the redelivery archives it', async () => {
    // Prepare: every HEAD answers 503 SlowDown until the faults are cleared
    const data = generateLogLike(256 * 1024, 31);
    const event = await putAndEvent('incoming/throttled.log', data);
    oss.setFaults({ operations: { HeadObject: { slowDownRate: 1 } } });
    // Act
    const first = handleOssEvent(event, eventDeps(true));
    await expect(first).rejects.toMatchObject({ code: 'TriggerRetry', message: expect.stringMatching(/incoming\/throttled\.log: SourceUnavailable.*Function Compute delivers the event again/) });
    oss.setFaults({});
    const second = await handleOssEvent(event, eventDeps(true));
    // Assess
    expect(second).toMatchObject({ archived: 1, failed: 0 });
    expect(gunzipSync((await client('logs-dst').get('archive/throttled.log.gz')).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft()).toBe(0);
  });

  it('a record that fails for good (the destination is taken) is reported, not retried', async () => {
    // Prepare
    const data = generateLogLike(64 * 1024, 32);
    const event = await putAndEvent('incoming/taken.log', data);
    await client('logs-dst').put('archive/taken.log.gz', Buffer.from('not ours'));
    // Act
    const r = await handleOssEvent(event, eventDeps(true));
    // Assess
    expect(r).toMatchObject({ archived: 0, failed: 1 });
    expect(r.results[0]!.transient).toBeUndefined();
    expect((await client('logs-dst').get('archive/taken.log.gz')).content.toString()).toBe('not ours');
  });

  it('a malformed body is refused naming the field', async () => {
    // Prepare
    const deps = eventDeps();
    // Act
    const act = handleOssEvent('{"events": 3}', deps);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/^event\.events/) });
  });
});
