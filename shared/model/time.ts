/**
 * The time model: how long a copy takes on FC, from the planner's own parts and tasks (shared/plan.ts).
 *
 * Each task is one worker instance. Its streams take its parts in turn, each at the source's per-connection
 * throughput (a worker with fewer parts than streams opens fewer connections); all its streams together stay
 * within its instance bandwidth (by vCPU) and its CPU (vCPU ÷ worker CPU seconds per GiB). It pays one request
 * latency per part on each stream (its parts ÷ streams, rounded up). Worker k (the
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

/**
 * One worker's transfer: its streams take its parts in turn (part k on stream k mod streams), each stream at
 * the per-connection rate, all streams together within the instance bandwidth and the CPU. The slowest stream
 * or the shared limit, whichever takes longer.
 */
function workerTransfer(p: ModelParams, sizes: readonly number[]): { seconds: number; streams: number; limitedBy: WorkerTime['limitedBy'] } {
  const streams = Math.max(1, Math.min(p.streamsPerWorker, sizes.length));
  const perStream = new Array<number>(streams).fill(0);
  let bytes = 0;
  for (let k = 0; k < sizes.length; k++) {
    perStream[k % streams]! += sizes[k]!;
    bytes += sizes[k]!;
  }
  const streamSeconds = Math.max(...perStream) / p.connectionBytesPerSecond;
  const bandwidth = gbpsToBytes(p.instanceGbps);
  const cpu = (p.workerVcpu / p.workerCpuSecondsPerGiB) * UNITS.GB;
  const shared = bytes / Math.min(bandwidth, cpu);
  if (streamSeconds >= shared) return { seconds: streamSeconds, streams, limitedBy: 'source connections' };
  return { seconds: shared, streams, limitedBy: bandwidth <= cpu ? 'instance bandwidth' : 'worker CPU' };
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
    const sizes = t.parts.map((x) => x.end - x.start);
    const bytes = sizes.reduce((a, x) => a + x, 0);
    const transfer = workerTransfer(p, sizes);
    return {
      bytes,
      parts: t.parts.length,
      streams: transfer.streams,
      bytesPerSecond: transfer.seconds > 0 ? bytes / transfer.seconds : 0,
      limitedBy: transfer.limitedBy,
      startDelaySeconds: instanceStartDelay(i, p.burstInstances, p.growthPerMinute),
      latencySeconds: Math.ceil(t.parts.length / p.streamsPerWorker) * p.requestLatencySeconds,
      transferSeconds: transfer.seconds,
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
