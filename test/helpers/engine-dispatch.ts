/**
 * In-process copy workers for engine tests: each task goes through its wire schemas as over FC (wire →
 * parseCopyTask → runCopyTask → wire → parseWorkerResult) and failures are classified as the FC dispatcher does;
 * and the harness the engine tests share (local OSS, HTTP source, status store, deps).
 */
import OSS from 'ali-oss';
import { parseJob, type Job, type JobSpecInput } from '../../shared/job.ts';
import { silentLogger } from '../../shared/log.ts';
import { parseAllowList, type AllowList } from '../../shared/ssrf.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import type { EngineDeps } from '../../functions/engine/types.ts';
import { ossStatusStore, type StatusStore } from '../../functions/status/store.ts';
import { parseCopyTask, parseWorkerResult, workerResultToWire, type CopyTask, type WorkerTaskWire } from '../../shared/task.ts';
import { classifyDispatchError, type DispatchOutcome } from '../../functions/engine/dispatch.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import type { PartSink } from '../../functions/oss/types.ts';
import { openSource } from '../../functions/sources/index.ts';
import { runCopyTask } from '../../functions/worker/copy.ts';

export function inProcessCopyDispatch(dst: OSS, allow: AllowList, o: { partSinkFor?: (t: CopyTask) => PartSink } = {}): (wire: WorkerTaskWire) => Promise<DispatchOutcome> {
  return async (wire) => {
    try {
      const result = await runCopyTask(parseCopyTask(JSON.parse(JSON.stringify(wire))), {
        logger: silentLogger,
        openSource: (url) => openSource(url, { allow }),
        partSinkFor: o.partSinkFor ?? ((t) => new OssPartSink({ client: dst, bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId })),
      });
      return { kind: 'result', result: parseWorkerResult(JSON.parse(JSON.stringify(workerResultToWire(result))), 'copy') };
    } catch (err) {
      return classifyDispatchError(err);
    }
  };
}

/** The engine against the real local OSS (buckets dst, ossferry-status) and HTTP source, workers in-process. */
export interface EngineHarness {
  oss: LocalOss;
  http: HttpSourceServer;
  dst: OSS;
  statusClient: OSS;
  status: StatusStore;
  allow: AllowList;
  /** Engine deps: in-process copy workers, a short lease, the status store. */
  deps(extra?: Partial<EngineDeps>): EngineDeps;
  /** A copy job from the HTTP source's `path` to oss://dst/`key`, 100 KiB parts, 2 workers × 2 streams. */
  copyJob(path: string, key: string, extra?: Partial<JobSpecInput>): Job;
  /** Upload ids open on `key` in dst. */
  uploadsOf(key: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startEngineHarness(): Promise<EngineHarness> {
  const oss = await startOssServer({ buckets: ['dst', 'ossferry-status'], fsync: false });
  const http = await startHttpSourceServer();
  const allow = parseAllowList('127.0.0.1');
  const dst = new OSS({ ...oss.clientOptions('dst'), retryMax: 0 } as OSS.Options);
  const statusClient = new OSS({ ...oss.clientOptions('ossferry-status'), retryMax: 0 } as OSS.Options);
  const status = ossStatusStore(statusClient, { bucket: 'ossferry-status', prefix: 'jobs' });
  return {
    oss,
    http,
    dst,
    statusClient,
    status,
    allow,
    deps: (extra = {}) => ({
      logger: silentLogger,
      openSource: (job) => openSource(job.source.url, { allow }),
      destinationClient: dst,
      status,
      workerTimeoutSeconds: 600,
      lease: { ttlMs: 3_000, heartbeatMs: 200 },
      dispatch: inProcessCopyDispatch(dst, allow),
      ...extra,
    }),
    copyJob: (path, key, extra = {}) => parseJob({ source: http.url(path), destination: `oss://dst/${key}`, partSize: 100 * 1024, workers: 2, streamsPerWorker: 2, ...extra }),
    async uploadsOf(key) {
      const r = (await dst.listUploads({ prefix: key } as never)) as unknown as { uploads?: Array<{ name: string; uploadId: string }> };
      return (r.uploads ?? []).filter((u) => u.name === key).map((u) => u.uploadId);
    },
    async close() {
      await http.close();
      await oss.close();
    },
  };
}
