/**
 * The time model: how long a copy takes on FC, from the planner's own parts and tasks (shared/plan.ts).
 *
 * Each task is one worker instance. Its streams take its parts in turn, each at the source's per-connection
 * throughput (a worker with fewer parts than streams opens fewer connections); all its streams together stay
 * within its instance bandwidth (by vCPU) and its CPU (vCPU ÷ worker CPU seconds per GiB). It pays one request
 * latency per part on each stream (its parts ÷ streams, rounded up). Worker k (the
 * coordinator is instance 0) starts at once when k < the region's burst, else (k − burst + 1) × 60 ÷ growth
 * seconds later. All workers together cannot beat the account's OSS upload bandwidth, so the transfer lasts
 * the larger of the slowest worker and the account-limited time (the limits are not added).
 * Total = start-up + transfer + finish. Fan-out is capped at the instance quota minus the coordinator's one.
 *
 * Connection ramp: a new connection does not run at its steady rate from its first byte (TCP slow start over
 * an Internet path, a cold instance's first requests). Its rate rises linearly from 0 to the steady rate over
 * `connectionRampSeconds` τ: by time t it has moved rate·t²/(2τ) bytes for t < τ, rate·(t − τ/2) after. The
 * ramp is paid once per connection, not per part: a stream reads its parts one after another over one
 * keep-alive connection (functions/sources/http.ts and raw-http.ts keep finished connections and reuse the
 * last one returned, so each stream's next ranged read finds its own warm socket).
 * A shared limit (instance bandwidth, CPU, account) caps the sum: n connections ramping together reach a cap
 * C < n·rate after τ·C/(n·rate), so the capped sum is itself a ramp to C over that shorter time. τ = 0 is
 * the constant-rate model.
 */
import { planJob, resolveWorkers, type Plan } from '../plan.ts';
import { capabilitiesOf } from '../sources.ts';
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
  /** Worker fan-out the planner was allowed (workers, 'auto' resolved for the size, at most quota − 1). */
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

/** Bytes moved `t` seconds after the first byte by a flow whose rate rises linearly to `rate` over `ramp` s. */
export function rampBytes(t: number, rate: number, ramp: number): number {
  if (t <= 0) return 0;
  if (t < ramp) return (rate * t * t) / (2 * ramp);
  return rate * (t - ramp / 2);
}

/** Seconds a flow rising linearly to `rate` over `ramp` s needs for `bytes` (the inverse of rampBytes). */
export function rampSeconds(bytes: number, rate: number, ramp: number): number {
  if (bytes <= 0) return 0;
  if (ramp <= 0) return bytes / rate;
  return bytes < (rate * ramp) / 2 ? Math.sqrt((2 * ramp * bytes) / rate) : bytes / rate + ramp / 2;
}

/** Ramp time of `flows` flows ramping together (steady sum `flowsRate`) under a cap: they reach it sooner. */
const cappedRamp = (ramp: number, cap: number, flowsRate: number): number => (flowsRate > cap ? (ramp * cap) / flowsRate : ramp);

/**
 * One worker's transfer: its streams take its parts in turn (part k on stream k mod streams), each stream at
 * the per-connection rate after its ramp, all streams together within the instance bandwidth and the CPU. The
 * slowest stream or the shared limit, whichever takes longer; `steadyBytesPerSecond`: its rate after the ramp.
 */
function workerTransfer(p: ModelParams, sizes: readonly number[]): { seconds: number; streams: number; steadyBytesPerSecond: number; limitedBy: WorkerTime['limitedBy'] } {
  const streams = Math.max(1, Math.min(p.streamsPerWorker, sizes.length));
  const perStream = new Array<number>(streams).fill(0);
  let bytes = 0;
  for (let k = 0; k < sizes.length; k++) {
    perStream[k % streams]! += sizes[k]!;
    bytes += sizes[k]!;
  }
  const r = p.connectionBytesPerSecond;
  const streamSeconds = rampSeconds(Math.max(...perStream), r, p.connectionRampSeconds);
  const bandwidth = gbpsToBytes(p.instanceGbps);
  const cpu = (p.workerVcpu / p.workerCpuSecondsPerGiB) * UNITS.GB;
  const cap = Math.min(bandwidth, cpu);
  const shared = rampSeconds(bytes, cap, cappedRamp(p.connectionRampSeconds, cap, streams * r));
  const steadyBytesPerSecond = Math.min(streams * r, cap);
  if (streamSeconds >= shared) return { seconds: streamSeconds, streams, steadyBytesPerSecond, limitedBy: 'source connections' };
  return { seconds: shared, streams, steadyBytesPerSecond, limitedBy: bandwidth <= cpu ? 'instance bandwidth' : 'worker CPU' };
}

/** Seconds after start-up at which FC delivers worker `index` (0-based; the coordinator is instance 0). */
export function instanceStartDelay(index: number, burst: number, growthPerMinute: number): number {
  const k = index + 1;
  return k < burst ? 0 : ((k - burst + 1) * 60) / growthPerMinute;
}

export function predictTime(p: ModelParams): TimePrediction {
  // 'auto' is the engine's own rule, bounded by the quota as the coordinator bounds it by its capacity.
  const fanOutCap = Math.min(resolveWorkers(p.workers, p.size, p.instanceQuota - 1, capabilitiesOf(p.sourceKind).autoWorkersCap), p.instanceQuota - 1);
  const plan = planJob(p.size, { partSize: p.partSize, maxWorkers: fanOutCap, streamsPerWorker: p.streamsPerWorker });
  let steadySum = 0;
  const perWorker: WorkerTime[] = plan.tasks.map((t, i) => {
    const sizes = t.parts.map((x) => x.end - x.start);
    const bytes = sizes.reduce((a, x) => a + x, 0);
    const transfer = workerTransfer(p, sizes);
    steadySum += transfer.steadyBytesPerSecond;
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
  // All connections ramping together against the account's bandwidth (≥ the floor; equal to it when τ = 0).
  const accountSeconds = rampSeconds(p.size, account, cappedRamp(p.connectionRampSeconds, account, steadySum));
  const transferSeconds = Math.max(slowestEnd, accountSeconds, floorSeconds);
  let bottleneck: Bottleneck;
  if (accountSeconds >= slowestEnd) bottleneck = 'account bandwidth';
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
