/**
 * The planner: object size → multipart parts → worker tasks. Pure and property-tested
 * (test/unit/plan.test.ts). OSS limits come from shared/limits.ts:
 * part numbers 1..10000, parts 100 KB..5 GB except the last, object ≤ 48.8 TB.
 *
 * Tasks are runs of consecutive parts, several parts in flight per worker ("streams"): every FC instance
 * starts cold and counts against the region's instance quota, so fewer, fatter workers beat one instance per part.
 */
import { InvalidInputError } from './errors.ts';
import { FC, OSS, UNITS } from './limits.ts';

/** One multipart part: bytes [start, end) of the source, uploaded as `partNumber`. */
export interface PartRange {
  partNumber: number;
  start: number;
  end: number;
}

/** One worker's share: consecutive parts (ascending part numbers). Never empty. */
export interface TaskPlan {
  parts: PartRange[];
}

export interface PlanOptions {
  /** Requested part size in bytes; grown automatically when it would need more than 10,000 parts. Default: auto. */
  partSize?: number | 'auto';
  /** Upper bound on worker tasks (parallel FC instances). Default 16. */
  maxWorkers?: number;
  /** Parts a worker uploads in parallel. Default 8. */
  streamsPerWorker?: number;
}

export interface Plan {
  size: number;
  /** Size of every part but the last. */
  partSize: number;
  parts: PartRange[];
  tasks: TaskPlan[];
  streamsPerWorker: number;
}

export const PLAN_DEFAULTS = Object.freeze({
  maxWorkers: 16,
  streamsPerWorker: 8,
  /** Auto part size bounds: ≥ 8 MiB keeps request overhead small, ≤ 256 MiB keeps a retried part cheap. */
  minAutoPartSize: 8 * UNITS.MB,
  maxAutoPartSize: 256 * UNITS.MB,
  /** Auto sizing aims for this many parts per stream, so streams stay busy and a slow part is not the tail. */
  partsPerStream: 4,
});

/**
 * A job's default fan-out ('auto', see resolveWorkers): the 16 workers of PLAN_DEFAULTS up to 2 GiB, then one
 * worker per 128 MiB, so a big job gets enough connections to fill the region's OSS upload bandwidth (a 20
 * Gbit/s account needs 2.5 GB/s; a worker's 8 streams move about 100 MB/s from an Internet source, and new
 * connections start slow, so filling it quickly takes more workers than the steady rate alone).
 * At most FC's default instance quota less the coordinator's one.
 */
export const AUTO_WORKERS = Object.freeze({
  min: PLAN_DEFAULTS.maxWorkers,
  bytesPerWorker: 128 * UNITS.MB,
  cap: FC.DEFAULT_INSTANCE_QUOTA - 1,
});

/**
 * Worker fan-out of a job: `workers` when it sets a number, else one per 128 MiB within [16, cap], and at most
 * `kindCap` (a source kind whose one server carries every connection, shared/sources.ts autoWorkersCap).
 */
export function resolveWorkers(workers: number | 'auto', size: number, cap: number = AUTO_WORKERS.cap, kindCap?: number): number {
  if (workers !== 'auto') return workers;
  checkSize(size);
  checkPositiveInt('cap', cap, 10_000, 'use the deployment\'s worker capacity, e.g. 99');
  return Math.min(cap, kindCap ?? cap, Math.max(AUTO_WORKERS.min, Math.ceil(size / AUTO_WORKERS.bytesPerWorker)));
}

const MiB = UNITS.MB;
const roundUpToMiB = (n: number) => Math.ceil(n / MiB) * MiB;

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidInputError('size', `must be a whole number of bytes ≥ 0, got ${size}`, 'pass the source size from stat()');
  }
  if (size > OSS.MAX_OBJECT_SIZE) {
    throw new InvalidInputError(
      'size',
      `${size} bytes exceeds the OSS multipart object limit of ${OSS.MAX_OBJECT_SIZE} bytes (48.8 TB)`,
      'split the source into several objects',
    );
  }
}

function checkPositiveInt(field: string, value: number, max: number, fix: string): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidInputError(field, `must be a whole number between 1 and ${max}, got ${value}`, fix);
  }
}

/** The smallest part size (a multiple of 1 MiB) that fits `size` into 10,000 parts. */
export function minPartSizeFor(size: number): number {
  return roundUpToMiB(Math.ceil(size / OSS.MAX_PART_NUMBER));
}

/**
 * Chooses the part size. A requested size must be 100 KB..5 GB and is grown (to a multiple of 1 MiB) only
 * when it would need more than 10,000 parts, like rclone does. Auto: about `partsPerStream` parts per stream
 * across all workers, rounded up to 1 MiB, clamped to [8 MiB, 256 MiB], then grown for the 10,000 limit.
 */
export function choosePartSize(size: number, options: PlanOptions = {}): number {
  checkSize(size);
  const requested = options.partSize ?? 'auto';
  const floor = minPartSizeFor(size);
  if (requested !== 'auto') {
    if (!Number.isSafeInteger(requested) || requested < OSS.MIN_PART_SIZE || requested > OSS.MAX_PART_SIZE) {
      throw new InvalidInputError(
        'partSize',
        `must be between ${OSS.MIN_PART_SIZE} (100 KB) and ${OSS.MAX_PART_SIZE} (5 GB) bytes, got ${requested}`,
        'use "auto" or a byte count in that range, e.g. 67108864 for 64 MiB',
      );
    }
    return requested * OSS.MAX_PART_NUMBER >= size ? requested : Math.min(floor, OSS.MAX_PART_SIZE);
  }
  const streams = (options.maxWorkers ?? PLAN_DEFAULTS.maxWorkers) * (options.streamsPerWorker ?? PLAN_DEFAULTS.streamsPerWorker);
  const target = roundUpToMiB(Math.ceil(size / (streams * PLAN_DEFAULTS.partsPerStream)));
  const clamped = Math.min(Math.max(target, PLAN_DEFAULTS.minAutoPartSize), PLAN_DEFAULTS.maxAutoPartSize);
  return Math.min(Math.max(clamped, floor), OSS.MAX_PART_SIZE);
}

/**
 * Splits [0, size) into parts of `partSize` (the last may be smaller). Size 0 gives one empty part:
 * an empty object is still one multipart part, so the flow has no special case.
 */
export function splitParts(size: number, partSize: number): PartRange[] {
  checkSize(size);
  if (!Number.isSafeInteger(partSize) || partSize < 1) {
    throw new InvalidInputError('partSize', `must be a positive whole number, got ${partSize}`, 'use choosePartSize()');
  }
  const n = Math.max(1, Math.ceil(size / partSize));
  if (n > OSS.MAX_PART_NUMBER) {
    throw new InvalidInputError('partSize', `${partSize} gives ${n} parts, more than 10000`, 'use choosePartSize()');
  }
  const parts: PartRange[] = [];
  for (let i = 0; i < n; i++) {
    parts.push({ partNumber: i + 1, start: i * partSize, end: Math.min(size, (i + 1) * partSize) });
  }
  return parts;
}

/**
 * Groups parts (any ascending list, e.g. only the missing ones) into at most `maxWorkers` tasks of
 * consecutive list entries, sizes differing by at most one part. A worker gets at least `streamsPerWorker`
 * parts when there are enough, so its streams are all busy before another instance is asked for.
 */
export function groupIntoTasks(parts: readonly PartRange[], options: PlanOptions = {}): TaskPlan[] {
  const maxWorkers = options.maxWorkers ?? PLAN_DEFAULTS.maxWorkers;
  const streams = options.streamsPerWorker ?? PLAN_DEFAULTS.streamsPerWorker;
  checkPositiveInt('maxWorkers', maxWorkers, 10_000, 'use a worker count such as 16');
  checkPositiveInt('streamsPerWorker', streams, 256, 'use a stream count such as 8');
  if (parts.length === 0) return [];
  const count = Math.max(1, Math.min(maxWorkers, Math.floor(parts.length / streams)));
  const base = Math.floor(parts.length / count);
  const extra = parts.length % count;
  const tasks: TaskPlan[] = [];
  let at = 0;
  for (let t = 0; t < count; t++) {
    const len = base + (t < extra ? 1 : 0);
    tasks.push({ parts: parts.slice(at, at + len) });
    at += len;
  }
  return tasks;
}

/** Plans a whole job: part size, parts, tasks. */
export function planJob(size: number, options: PlanOptions = {}): Plan {
  const partSize = choosePartSize(size, options);
  const parts = splitParts(size, partSize);
  return {
    size,
    partSize,
    parts,
    tasks: groupIntoTasks(parts, options),
    streamsPerWorker: options.streamsPerWorker ?? PLAN_DEFAULTS.streamsPerWorker,
  };
}

/**
 * Re-plans only the parts not yet done (resume after ListParts, or re-dispatch of a worker's unfinished
 * parts). `done` holds part numbers already uploaded and verified; unknown numbers are ignored.
 */
export function replanMissing(parts: readonly PartRange[], done: Iterable<number>, options: PlanOptions = {}): TaskPlan[] {
  const doneSet = new Set(done);
  return groupIntoTasks(
    parts.filter((p) => !doneSet.has(p.partNumber)),
    options,
  );
}
