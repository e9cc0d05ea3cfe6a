/**
 * The time model: how long a copy takes on FC, from the planner's own parts and tasks (shared/plan.ts).
 *
 * Each task is one worker instance. A worker moves bytes at the smallest of
 *   - its streams × the source's per-connection throughput (a worker with fewer parts than streams uses fewer),
 *   - its instance bandwidth (by vCPU),
 *   - its CPU: vCPU ÷ worker CPU seconds per GiB,
 * and pays one request latency per part on each stream (its parts ÷ streams, rounded up). Worker k (the
 * coordinator is instance 0) starts at once when k < the region's burst, else (k − burst + 1) × 60 ÷ growth
 * seconds later. All workers together cannot beat the account's OSS upload bandwidth, so the transfer lasts
 * the larger of the slowest worker and size ÷ account bandwidth (the two limits are not added).
 * Total = start-up + transfer + finish. Fan-out is capped at the instance quota minus the coordinator's one.
 */
import { planJob, type Plan } from '../plan.ts';
import { UNITS } from '../limits.ts';
import { gbpsToBytes } from './platform.ts';
import type { ModelParams } from './params.ts';

export type Bottleneck = 'source connections' | 'instance bandwidth' | 'worker CPU' | 'account bandwidth' | 'instance scaling' | 'request latency';

export interface WorkerTime {
  bytes: number;
  parts: number;
  /** Connections this worker opens (min(streams, parts)). */
  streams: number;
  bytesPerSecond: number;
  limitedBy: Exclude<Bottleneck, 'account bandwidth' | 'instance scaling' | 'request latency'>;
  /** Delay before FC delivers this instance (scaling beyond the burst). */
  startDelaySeconds: number;
  latencySeconds: number;
  transferSeconds: number;
}

export interface TimePrediction {
  plan: Plan;
  /** Workers after the instance-quota cap. */
  workers: number;
  /** Worker fan-out the planner was allowed (min(workers, quota − 1)). */
  fanOutCap: number;
  connections: number;
  perWorker: WorkerTime[];
  startupSeconds: number;
  transferSeconds: number;
  finishSeconds: number;
  seconds: number;
  /** size ÷ account OSS upload bandwidth: no job can be faster. */
  floorSeconds: number;
  aggregateBytesPerSecond: number;
  bottleneck: Bottleneck;
}

function workerRate(p: ModelParams, parts: number): { bytesPerSecond: number; streams: number; limitedBy: WorkerTime['limitedBy'] } {
  const streams = Math.max(1, Math.min(p.streamsPerWorker, parts));
  const limits: Array<[number, WorkerTime['limitedBy']]> = [
    [streams * p.connectionBytesPerSecond, 'source connections'],
    [gbpsToBytes(p.instanceGbps), 'instance bandwidth'],
    [(p.workerVcpu / p.workerCpuSecondsPerGiB) * UNITS.GB, 'worker CPU'],
  ];
  let best = limits[0]!;
  for (const l of limits) if (l[0] < best[0]) best = l;
  return { bytesPerSecond: best[0], streams, limitedBy: best[1] };
}

/** Seconds after start-up at which FC delivers worker `index` (0-based; the coordinator is instance 0). */
export function instanceStartDelay(index: number, burst: number, growthPerMinute: number): number {
  const k = index + 1;
  return k < burst ? 0 : ((k - burst + 1) * 60) / growthPerMinute;
}

export function predictTime(p: ModelParams): TimePrediction {
  const fanOutCap = Math.min(p.workers, p.instanceQuota - 1);
  const plan = planJob(p.size, { partSize: p.partSize, maxWorkers: fanOutCap, streamsPerWorker: p.streamsPerWorker });
  const perWorker: WorkerTime[] = plan.tasks.map((t, i) => {
    const bytes = t.parts.reduce((a, x) => a + (x.end - x.start), 0);
    const rate = workerRate(p, t.parts.length);
    return {
      bytes,
      parts: t.parts.length,
      streams: rate.streams,
      bytesPerSecond: rate.bytesPerSecond,
      limitedBy: rate.limitedBy,
      startDelaySeconds: instanceStartDelay(i, p.burstInstances, p.growthPerMinute),
      latencySeconds: Math.ceil(t.parts.length / p.streamsPerWorker) * p.requestLatencySeconds,
      transferSeconds: bytes / rate.bytesPerSecond,
    };
  });
  const account = gbpsToBytes(p.accountGbps);
  const floorSeconds = p.size / account;
  let slowest = perWorker[0]!;
  let slowestEnd = -1;
  for (const w of perWorker) {
    const end = w.startDelaySeconds + w.latencySeconds + w.transferSeconds;
    if (end > slowestEnd) {
      slowestEnd = end;
      slowest = w;
    }
  }
  const transferSeconds = Math.max(slowestEnd, floorSeconds);
  let bottleneck: Bottleneck;
  if (floorSeconds >= slowestEnd) bottleneck = 'account bandwidth';
  else if (slowest.startDelaySeconds > slowest.transferSeconds) bottleneck = 'instance scaling';
  else if (slowest.latencySeconds > slowest.transferSeconds) bottleneck = 'request latency';
  else bottleneck = slowest.limitedBy;
  const seconds = p.startupSeconds + transferSeconds + p.finishSeconds;
  return {
    plan,
    workers: plan.tasks.length,
    fanOutCap,
    connections: perWorker.reduce((a, w) => a + w.streams, 0),
    perWorker,
    startupSeconds: p.startupSeconds,
    transferSeconds,
    finishSeconds: p.finishSeconds,
    seconds,
    floorSeconds,
    aggregateBytesPerSecond: transferSeconds > 0 ? p.size / transferSeconds : 0,
    bottleneck,
  };
}
