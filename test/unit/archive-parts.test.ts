import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gzipSync, gunzipSync } from 'node:zlib';
import {
  ArchivePackingError,
  ArchivePartPacker,
  DEFLATE_MAX_RATIO,
  MIN_ARCHIVE_TASK_INPUT,
  maxMemberCompressedSize,
  memberRanges,
  minMemberCompressedSize,
  packMembersIntoParts,
  planArchiveTasks,
  validateCompletedParts,
  type PackedPart,
} from '../../shared/archive-parts.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { OSS, UNITS } from '../../shared/limits.ts';

const { KB, MB, GB } = UNITS;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('the deflate ratio bound the plan relies on', () => {
  it('all-zero data at zlib level 9 stays above input/1032, and concatenated members decode as one stream', () => {
    // Prepare
    const zeros = Buffer.alloc(4 * MB);
    // Act
    const members = [gzipSync(zeros, { level: 9 }), gzipSync(zeros.subarray(0, 1 * MB), { level: 9 }), gzipSync(Buffer.alloc(0))];
    const roundTrip = gunzipSync(Buffer.concat(members));
    // Assess
    expect(members[0]!.length).toBeGreaterThanOrEqual(minMemberCompressedSize(4 * MB));
    expect(members[1]!.length).toBeGreaterThanOrEqual(minMemberCompressedSize(1 * MB));
    expect(roundTrip.length).toBe(5 * MB);
    expect(MIN_ARCHIVE_TASK_INPUT / DEFLATE_MAX_RATIO).toBeGreaterThan(OSS.MIN_PART_SIZE);
  });

  it('incompressible data stays below the per-member upper bound', () => {
    // Prepare
    const random = Buffer.from(Array.from({ length: 256 * KB }, (_, i) => (i * 2654435761) >>> 24));
    // Act
    const out = gzipSync(random, { level: 1 });
    // Assess
    expect(out.length).toBeLessThanOrEqual(maxMemberCompressedSize(random.length));
  });
});

describe('planArchiveTasks', () => {
  it('plans one final task with one empty member for a 0-byte file', () => {
    // Prepare / Act
    const plan = planArchiveTasks({ sourceSize: 0, maxTasks: 8 });
    // Assess
    expect(plan.tasks).toHaveLength(1);
    expect(plan.tasks[0]).toMatchObject({ start: 0, end: 0, firstPartNumber: 1, isFinal: true });
    expect(memberRanges(plan.tasks[0]!, plan.memberSize)).toEqual([[0, 0]]);
  });

  it('never gives a non-final task less than 128 MiB, even when many workers are asked for', () => {
    // Prepare / Act
    const plan = planArchiveTasks({ sourceSize: 1 * GB, maxTasks: 100 });
    // Assess
    expect(plan.tasks).toHaveLength(8);
    expect(plan.tasks.every((t) => t.isFinal || t.end - t.start >= MIN_ARCHIVE_TASK_INPUT)).toBe(true);
  });

  it('refuses, naming sourceSize, a source too large for 10000 parts of ≤ 4 GiB', () => {
    // Prepare / Act
    const err = thrown(() => planArchiveTasks({ sourceSize: 45 * 1024 * GB, maxTasks: 10 }));
    // Assess
    expect((err as InvalidInputError).field).toBe('sourceSize');
  });

  it('refuses a minTaskInput that could compress below 100 KB, and bad sizes', () => {
    // Prepare / Act
    const low = thrown(() => planArchiveTasks({ sourceSize: 10 * GB, minTaskInput: 64 * MB }));
    const neg = thrown(() => planArchiveTasks({ sourceSize: -1 }));
    // Assess
    expect((low as InvalidInputError).field).toBe('minTaskInput');
    expect((neg as InvalidInputError).field).toBe('sourceSize');
  });

  it('covers the input with member-aligned tasks and disjoint ascending part blocks ≤ 10000 (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 2 * GB }), fc.integer({ min: 0, max: 30 * 1024 * GB })),
        fc.integer({ min: 1, max: 500 }),
        (sourceSize, maxTasks) => {
          // Prepare / Act
          const plan = planArchiveTasks({ sourceSize, maxTasks });
          // Assess
          const { tasks } = plan;
          expect(tasks.length).toBeGreaterThanOrEqual(1);
          expect(tasks.length).toBeLessThanOrEqual(maxTasks);
          expect(tasks[0]!.start).toBe(0);
          expect(tasks.at(-1)!.end).toBe(sourceSize);
          expect(tasks.at(-1)!.lastPartNumber).toBeLessThanOrEqual(OSS.MAX_PART_NUMBER);
          tasks.forEach((t, i) => {
            expect(t.isFinal).toBe(i === tasks.length - 1);
            if (i > 0) {
              expect(t.start).toBe(tasks[i - 1]!.end);
              expect(t.firstPartNumber).toBe(tasks[i - 1]!.lastPartNumber + 1);
            }
            if (!t.isFinal) {
              expect(t.end - t.start).toBeGreaterThanOrEqual(MIN_ARCHIVE_TASK_INPUT);
              expect((t.end - t.start) % plan.memberSize).toBe(0);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('packMembersIntoParts', () => {
  const block = { firstPartNumber: 11, lastPartNumber: 20, targetPartSize: 1 * MB };

  it('holds back the last part and merges a small tail into it', () => {
    // Prepare
    const packer = new ArchivePartPacker({ ...block, isFinalTask: false });
    // Act
    const afterFirst = packer.add(1 * MB);
    const afterSecond = packer.add(1 * MB);
    const afterTail = packer.add(10 * KB);
    const rest = packer.finish();
    // Assess
    expect(afterFirst).toEqual([]);
    expect(afterSecond).toEqual([{ partNumber: 11, firstMember: 0, endMember: 1, size: 1 * MB }]);
    expect(afterTail).toEqual([]);
    expect(rest).toEqual([{ partNumber: 12, firstMember: 1, endMember: 3, size: 1 * MB + 10 * KB }]);
  });

  it('lets the final task end with a tiny part, and refuses one in a non-final task', () => {
    // Prepare
    const tiny = [20];
    // Act
    const finalParts = packMembersIntoParts(tiny, { ...block, isFinalTask: true });
    const err = thrown(() => packMembersIntoParts(tiny, { ...block, isFinalTask: false }));
    // Assess
    expect(finalParts).toEqual([{ partNumber: 11, firstMember: 0, endMember: 1, size: 20 }]);
    expect(err).toBeInstanceOf(ArchivePackingError);
  });

  it('refuses to run past its part block', () => {
    // Prepare
    const sizes = Array.from({ length: 5 }, () => 1 * MB);
    // Act
    const err = thrown(() => packMembersIntoParts(sizes, { firstPartNumber: 1, lastPartNumber: 3, targetPartSize: 1 * MB, isFinalTask: true }));
    // Assess
    expect(err).toBeInstanceOf(ArchivePackingError);
  });

  it('a whole job: order and content preserved, non-last parts ≥ 100 KB, numbers inside blocks (property)', () => {
    // Compressed sizes anywhere between the deflate lower bound (all zeros) and the incompressible upper bound.
    const ratio = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * GB }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(OSS.MIN_PART_SIZE, 1 * MB, 16 * MB),
        fc.infiniteStream(ratio),
        (sourceSize, maxTasks, partTarget, ratios) => {
          // Prepare
          const plan = planArchiveTasks({ sourceSize, maxTasks, partTarget });
          const it = ratios[Symbol.iterator]();
          // Act
          const all: Array<PackedPart & { task: number; members: Array<[number, number]> }> = [];
          for (const task of plan.tasks) {
            const ranges = memberRanges(task, plan.memberSize);
            const sizes = ranges.map(([s, e]) => {
              const lo = Math.max(minMemberCompressedSize(e - s), 20);
              const hi = maxMemberCompressedSize(e - s);
              return Math.round(lo + (hi - lo) * (it.next().value as number));
            });
            const parts = packMembersIntoParts(sizes, {
              firstPartNumber: task.firstPartNumber,
              lastPartNumber: task.lastPartNumber,
              targetPartSize: plan.partTarget,
              isFinalTask: task.isFinal,
            });
            for (const p of parts) {
              expect(p.partNumber).toBeGreaterThanOrEqual(task.firstPartNumber);
              expect(p.partNumber).toBeLessThanOrEqual(task.lastPartNumber);
              expect(p.size).toBe(sizes.slice(p.firstMember, p.endMember).reduce((a, b) => a + b, 0));
              all.push({ ...p, task: task.index, members: ranges.slice(p.firstMember, p.endMember) });
            }
          }
          // Assess: parts in number order concatenate every member of every task, in input order.
          const inputOrder = all.flatMap((p) => p.members);
          expect(inputOrder[0]![0]).toBe(0);
          inputOrder.forEach(([s, e], i) => {
            expect(e).toBeGreaterThanOrEqual(s);
            if (i > 0) expect(s).toBe(inputOrder[i - 1]![1]);
          });
          expect(inputOrder.at(-1)![1]).toBe(sourceSize);
          expect(() => validateCompletedParts(all)).not.toThrow();
          expect(all.at(-1)!.partNumber).toBeLessThanOrEqual(OSS.MAX_PART_NUMBER);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('validateCompletedParts', () => {
  it.each([
    [[{ partNumber: 1, size: 50 * KB }, { partNumber: 2, size: 200 * KB }], /EntityTooSmall/],
    [[{ partNumber: 2, size: 200 * KB }, { partNumber: 2, size: 200 * KB }], /ascend/],
    [[{ partNumber: 10_001, size: 1 }], /outside/],
    [[{ partNumber: 1, size: 6 * GB }], /above/],
    [[], /no parts/],
  ])('refuses %j', (parts, message) => {
    // Prepare / Act
    const err = thrown(() => validateCompletedParts(parts));
    // Assess
    expect(err).toBeInstanceOf(ArchivePackingError);
    expect((err as Error).message).toMatch(message);
  });

  it('accepts gaps and a tiny last part', () => {
    // Prepare
    const parts = [
      { partNumber: 1, size: 100 * KB },
      { partNumber: 57, size: 30 * MB },
      { partNumber: 9000, size: 20 },
    ];
    // Act
    const run = () => validateCompletedParts(parts);
    // Assess
    expect(run).not.toThrow();
  });
});
