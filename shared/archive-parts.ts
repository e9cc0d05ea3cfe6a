/**
 * Archive mode: how a job's input is split into worker tasks, how each worker packs its gzip members into
 * multipart parts, and the invariant the coordinator checks before CompleteMultipartUpload. Pure.
 *
 * The output object is the concatenation of independent gzip members (valid RFC 1952, what pigz writes;
 * gzip -t, zcat and Node zlib.gunzip accept it; some decoders, e.g. fflate's and Bun's gunzipSync, stop
 * after the first member). Members are DEFAULT_MEMBER_SIZE (8 MiB) of input.
 *
 * Part numbers without knowing compressed sizes: task i owns the block [i·B + 1, (i+1)·B]. Gaps are fine:
 * Complete only needs ascending part numbers (OSS API reference, CompleteMultipartUpload: part numbers may be non-consecutive).
 * B is an upper bound of the parts a task can produce (every closed part is ≥ the target size, so
 * parts ≤ floor(maxCompressed / target) + 1).
 *
 * The 100 KB rule (OSS: every non-last part ≥ 100 KB, else EntityTooSmall at Complete).
 * Within a task: a part closes once it holds ≥ targetPartSize bytes, and the worker holds back its last
 * closed part until it knows whether more follows; a tail < 100 KB is merged into the held-back part
 * (just more concatenated members: content unchanged).
 * Across tasks — the fallback for "a whole non-final task compresses to < 100 KB": it cannot happen,
 * by construction. DEFLATE's best case is a 258-byte match coded in 2 bits (1-bit length code + 1-bit
 * distance code; RFC 1951 §3.2.7 gives a lone distance code one bit), so no deflate stream is smaller than
 * input/1032 bytes, whatever the data (all zeros compress ~1030:1 with zlib -9). Every non-final task is
 * therefore planned with ≥ MIN_ARCHIVE_TASK_INPUT = 128 MiB of input, which compresses to ≥ 130,055 bytes
 * > 102,400. Only the job's final task may be small, and its last part is the object's last part, which
 * may be any size (even the 20-byte empty member of a 0-byte file). This was chosen over inline tails
 * (the next task's first part is already uploaded, so tails could not be merged without re-reading it)
 * and over sampling (a sample proves nothing about the rest of the file). Cost: parallelism is capped at
 * one task per 128 MiB, ~8 tasks per GiB, which is more than the CPUs a job gets.
 */
import { InvalidInputError, OssferryError } from './errors.ts';
import { OSS, UNITS } from './limits.ts';

/** Best-case DEFLATE ratio: 258 bytes per 2 bits (see the header). */
export const DEFLATE_MAX_RATIO = 1032;
/** Input per non-final task; 128 MiB / 1032 = 130,055 bytes > OSS.MIN_PART_SIZE. */
export const MIN_ARCHIVE_TASK_INPUT = 128 * UNITS.MB;
export const DEFAULT_ARCHIVE_MEMBER_SIZE = 8 * UNITS.MB;
export const DEFAULT_ARCHIVE_PART_TARGET = 16 * UNITS.MB;
/** Parts are ≤ target + one member, and must stay ≤ OSS.MAX_PART_SIZE. */
export const MAX_ARCHIVE_PART_TARGET = 4 * UNITS.GB;
export const MAX_ARCHIVE_MEMBER_SIZE = 64 * UNITS.MB;

/** A worker's parts break the packing rules: a bug or a broken planner guarantee, never retried blindly. */
export class ArchivePackingError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ArchivePacking', message, options);
  }
}

/**
 * Upper bound of one member's compressed size for `n` input bytes: stored blocks cost 5 bytes per
 * 65,535 (zlib's deflateBound is n + n/4096 + n/16384 + …); n/1024 + 1 KiB covers that, the gzip
 * header/trailer and ISA-L's block headers with room to spare.
 */
export function maxMemberCompressedSize(n: number): number {
  return n + Math.ceil(n / 1024) + 1024;
}

/** Lower bound of one member's compressed size for `n` input bytes (see the header). */
export function minMemberCompressedSize(n: number): number {
  return Math.ceil(n / DEFLATE_MAX_RATIO);
}

export interface ArchivePlanOptions {
  sourceSize: number;
  /** Desired task count (e.g. max workers); the plan may use fewer. Default 1. */
  maxTasks?: number;
  memberSize?: number;
  partTarget?: number;
  /** Lower bound of a non-final task's input; tests may not lower it below the 100 KB proof. */
  minTaskInput?: number;
}

export interface ArchiveTask {
  index: number;
  /** Input range [start, end). */
  start: number;
  end: number;
  /** The part-number block this task owns, inclusive. */
  firstPartNumber: number;
  lastPartNumber: number;
  /** The job's last task: its last part is the object's last part (may be < 100 KB). */
  isFinal: boolean;
}

export interface ArchivePlan {
  memberSize: number;
  partTarget: number;
  partsPerTask: number;
  tasks: ArchiveTask[];
}

function checkInt(field: string, v: number, min: number, max: number, fix: string): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new InvalidInputError(field, `must be an integer in [${min}, ${max}], got ${v}`, fix);
}

/** The most parts a task with `input` bytes in `memberSize` members can produce at `target`. */
export function maxPartsForTask(input: number, memberSize: number, target: number): number {
  const members = Math.max(1, Math.ceil(input / memberSize));
  const full = Math.floor(input / memberSize);
  const rest = input - full * memberSize;
  const bound = full * maxMemberCompressedSize(memberSize) + (members > full ? maxMemberCompressedSize(rest) : 0);
  return Math.floor(bound / target) + 1;
}

/**
 * Splits [0, sourceSize) into tasks aligned to members, every non-final task ≥ minTaskInput, and gives
 * each a part-number block. Raises partTarget if the blocks would not fit in 10,000 part numbers.
 */
export function planArchiveTasks(opts: ArchivePlanOptions): ArchivePlan {
  const { sourceSize } = opts;
  const memberSize = opts.memberSize ?? DEFAULT_ARCHIVE_MEMBER_SIZE;
  const minTaskInput = opts.minTaskInput ?? MIN_ARCHIVE_TASK_INPUT;
  const maxTasks = opts.maxTasks ?? 1;
  let target = opts.partTarget ?? DEFAULT_ARCHIVE_PART_TARGET;
  checkInt('sourceSize', sourceSize, 0, OSS.MAX_OBJECT_SIZE, 'pass the stat() size of the source');
  checkInt('memberSize', memberSize, 64 * UNITS.KB, MAX_ARCHIVE_MEMBER_SIZE, 'omit it for 8 MiB members');
  checkInt('maxTasks', maxTasks, 1, OSS.MAX_PART_NUMBER, 'use the number of workers, or omit it');
  checkInt('partTarget', target, OSS.MIN_PART_SIZE, MAX_ARCHIVE_PART_TARGET, 'omit it for 16 MiB parts');
  if (!Number.isSafeInteger(minTaskInput) || minMemberCompressedSize(minTaskInput) < OSS.MIN_PART_SIZE) {
    throw new InvalidInputError('minTaskInput', `${minTaskInput} bytes can compress below ${OSS.MIN_PART_SIZE} bytes`, `use at least ${OSS.MIN_PART_SIZE * DEFLATE_MAX_RATIO} bytes, or omit it`);
  }
  // Task input: an equal share, rounded up to whole members, at least minTaskInput (rounded up to members).
  const members = Math.max(1, Math.ceil(sourceSize / memberSize));
  const minMembers = Math.ceil(minTaskInput / memberSize);
  const share = Math.ceil(members / maxTasks);
  const membersPerTask = Math.max(minMembers, share);
  const taskCount = Math.ceil(members / membersPerTask);
  const taskInput = membersPerTask * memberSize;

  let perTask = maxPartsForTask(Math.min(taskInput, Math.max(sourceSize, 1)), memberSize, target);
  while (perTask * taskCount > OSS.MAX_PART_NUMBER) {
    if (target >= MAX_ARCHIVE_PART_TARGET) {
      throw new InvalidInputError('sourceSize', `${sourceSize} bytes cannot be archived within ${OSS.MAX_PART_NUMBER} parts of ≤ ${MAX_ARCHIVE_PART_TARGET} bytes`, 'split the source');
    }
    target = Math.min(MAX_ARCHIVE_PART_TARGET, target * 2);
    perTask = maxPartsForTask(Math.min(taskInput, Math.max(sourceSize, 1)), memberSize, target);
  }
  const tasks: ArchiveTask[] = [];
  for (let i = 0; i < taskCount; i++) {
    const start = Math.min(sourceSize, i * taskInput);
    const end = Math.min(sourceSize, (i + 1) * taskInput);
    tasks.push({ index: i, start, end, firstPartNumber: i * perTask + 1, lastPartNumber: (i + 1) * perTask, isFinal: i === taskCount - 1 });
  }
  return { memberSize, partTarget: target, partsPerTask: perTask, tasks };
}

/** Input ranges of a task's members, in order. A 0-byte source still gets one (empty) member: a valid gzip file. */
export function memberRanges(task: Pick<ArchiveTask, 'start' | 'end'>, memberSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = task.start; s < task.end; s += memberSize) out.push([s, Math.min(task.end, s + memberSize)]);
  if (out.length === 0) out.push([task.start, task.start]);
  return out;
}

export interface PackedPart {
  partNumber: number;
  /** Members [firstMember, endMember) of the task, in order. */
  firstMember: number;
  endMember: number;
  /** Compressed bytes: the sum of those members' sizes. */
  size: number;
}

export interface PackOptions {
  firstPartNumber: number;
  lastPartNumber: number;
  targetPartSize: number;
  isFinalTask: boolean;
  minPartSize?: number;
}

/**
 * The streaming packer a worker runs: `add(size)` per compressed member, in order; it returns parts that
 * are final and may be uploaded now. `finish()` returns the rest. The last closed part is always held back
 * so a small tail can be merged into it.
 */
export class ArchivePartPacker {
  readonly #o: Required<PackOptions>;
  #next: number;
  #members = 0;
  #openFirst = 0;
  #openSize = 0;
  #held: PackedPart | undefined;
  #finished = false;

  constructor(o: PackOptions) {
    this.#o = { minPartSize: OSS.MIN_PART_SIZE, ...o };
    checkInt('firstPartNumber', o.firstPartNumber, OSS.MIN_PART_NUMBER, OSS.MAX_PART_NUMBER, 'use the task block from planArchiveTasks');
    checkInt('lastPartNumber', o.lastPartNumber, o.firstPartNumber, OSS.MAX_PART_NUMBER, 'use the task block from planArchiveTasks');
    checkInt('targetPartSize', o.targetPartSize, this.#o.minPartSize, MAX_ARCHIVE_PART_TARGET, 'use the plan partTarget');
    this.#next = o.firstPartNumber;
  }

  #number(): number {
    if (this.#next > this.#o.lastPartNumber) {
      throw new ArchivePackingError(`task needs more than its part block [${this.#o.firstPartNumber}, ${this.#o.lastPartNumber}]`);
    }
    return this.#next++;
  }

  add(memberSize: number): PackedPart[] {
    if (this.#finished) throw new ArchivePackingError('add() after finish()');
    checkInt('memberSize', memberSize, 0, MAX_ARCHIVE_PART_TARGET, 'pass the compressed size of the member');
    this.#members++;
    this.#openSize += memberSize;
    if (this.#openSize < this.#o.targetPartSize) return [];
    const ready = this.#held ? [this.#held] : [];
    this.#held = { partNumber: this.#number(), firstMember: this.#openFirst, endMember: this.#members, size: this.#openSize };
    this.#openFirst = this.#members;
    this.#openSize = 0;
    return ready;
  }

  finish(): PackedPart[] {
    if (this.#finished) throw new ArchivePackingError('finish() twice');
    this.#finished = true;
    const hasTail = this.#members > this.#openFirst;
    const out: PackedPart[] = [];
    if (this.#held && hasTail && this.#openSize < this.#o.minPartSize) {
      // Merge the small tail into the held-back part: the same members, one part.
      out.push({ ...this.#held, endMember: this.#members, size: this.#held.size + this.#openSize });
    } else {
      if (this.#held) out.push(this.#held);
      if (hasTail) out.push({ partNumber: this.#number(), firstMember: this.#openFirst, endMember: this.#members, size: this.#openSize });
    }
    if (out.length === 0) throw new ArchivePackingError('a task produced no members (an empty range still yields one empty gzip member)');
    const last = out[out.length - 1]!;
    if (!this.#o.isFinalTask && last.size < this.#o.minPartSize) {
      throw new ArchivePackingError(
        `a non-final task compressed to ${last.size} bytes in its last part, below the ${this.#o.minPartSize}-byte part minimum; tasks must carry ≥ ${MIN_ARCHIVE_TASK_INPUT} bytes of input (planArchiveTasks)`,
      );
    }
    return out;
  }
}

/** Packs a whole task's member sizes at once (same rules as ArchivePartPacker). */
export function packMembersIntoParts(memberSizes: readonly number[], opts: PackOptions): PackedPart[] {
  const p = new ArchivePartPacker(opts);
  const out: PackedPart[] = [];
  for (const s of memberSizes) out.push(...p.add(s));
  out.push(...p.finish());
  return out;
}

/**
 * The Complete-time invariants of OSS multipart uploads, checked by the coordinator over all tasks'
 * parts before CompleteMultipartUpload: strictly ascending numbers in 1..10000, every part ≤ 5 GB,
 * every non-last part ≥ 100 KB.
 */
export function validateCompletedParts(parts: ReadonlyArray<{ partNumber: number; size: number }>, minPartSize: number = OSS.MIN_PART_SIZE): void {
  if (parts.length === 0) throw new ArchivePackingError('no parts to complete');
  parts.forEach((p, i) => {
    if (!Number.isSafeInteger(p.partNumber) || p.partNumber < OSS.MIN_PART_NUMBER || p.partNumber > OSS.MAX_PART_NUMBER) {
      throw new ArchivePackingError(`part ${i} has number ${p.partNumber}, outside ${OSS.MIN_PART_NUMBER}..${OSS.MAX_PART_NUMBER}`);
    }
    if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) {
      throw new ArchivePackingError(`part numbers must ascend: ${parts[i - 1]!.partNumber} then ${p.partNumber}`);
    }
    if (p.size > OSS.MAX_PART_SIZE) throw new ArchivePackingError(`part ${p.partNumber} is ${p.size} bytes, above ${OSS.MAX_PART_SIZE}`);
    if (i < parts.length - 1 && p.size < minPartSize) {
      throw new ArchivePackingError(`part ${p.partNumber} is ${p.size} bytes; every part but the last must be ≥ ${minPartSize} (EntityTooSmall)`);
    }
  });
}
