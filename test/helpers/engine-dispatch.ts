/**
 * In-process copy workers for engine tests: each task goes through its wire schemas as over FC (wire →
 * parseCopyTask → runCopyTask → wire → parseWorkerResult) and failures are classified as the FC dispatcher does.
 */
import type OSS from 'ali-oss';
import { silentLogger } from '../../shared/log.ts';
import type { AllowList } from '../../shared/ssrf.ts';
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
