import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { OSS, UNITS } from '../../shared/limits.ts';
import { capabilitiesOf } from '../../shared/sources.ts';
import { AUTO_WORKERS, choosePartSize, groupIntoTasks, planJob, PLAN_DEFAULTS, replanMissing, resolveWorkers, splitParts, type PartRange } from '../../shared/plan.ts';

const sizeArb = fc.oneof(
  fc.integer({ min: 0, max: 2 * OSS.MIN_PART_SIZE }),
  fc.integer({ min: 0, max: 64 * UNITS.GB }),
  fc.integer({ min: 0, max: Math.floor(OSS.MAX_OBJECT_SIZE) }),
);
const optsArb = fc.record({
  partSize: fc.oneof(fc.constant('auto' as const), fc.integer({ min: OSS.MIN_PART_SIZE, max: OSS.MAX_PART_SIZE })),
  maxWorkers: fc.integer({ min: 1, max: 300 }),
  streamsPerWorker: fc.integer({ min: 1, max: 64 }),
});

/** The first violated tiling rule, or undefined (plain loop: plans have up to 10,000 parts). */
function tilingViolation(parts: PartRange[], size: number): string | undefined {
  if (parts.length < 1 || parts.length > OSS.MAX_PART_NUMBER) return `part count ${parts.length}`;
  if (parts[0]!.start !== 0) return 'first part does not start at 0';
  if (parts.at(-1)!.end !== size) return 'last part does not end at size';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.partNumber !== i + 1) return `part ${i} numbered ${p.partNumber}`;
    if (i > 0 && p.start !== parts[i - 1]!.end) return `gap/overlap before part ${p.partNumber}`;
    if (p.end - p.start > OSS.MAX_PART_SIZE) return `part ${p.partNumber} > 5 GB`;
    if (i < parts.length - 1 && p.end - p.start < OSS.MIN_PART_SIZE) return `non-last part ${p.partNumber} < 100 KB`;
  }
  return undefined;
}

function assertTiles(parts: PartRange[], size: number) {
  expect(tilingViolation(parts, size)).toBeUndefined();
}

describe('planJob', () => {
  it('parts tile [0,size) contiguously, numbered 1..n, within OSS part limits (property)', () => {
    fc.assert(
      fc.property(sizeArb, optsArb, (size, opts) => {
        // Act
        const plan = planJob(size, opts);
        // Assess
        assertTiles(plan.parts, size);
        expect(plan.parts.every((p, i) => i === plan.parts.length - 1 || p.end - p.start === plan.partSize)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('tasks partition the parts in order, none empty, at most maxWorkers (property)', () => {
    fc.assert(
      fc.property(sizeArb, optsArb, (size, opts) => {
        // Act
        const plan = planJob(size, opts);
        // Assess
        expect(plan.tasks.length).toBeGreaterThanOrEqual(1);
        expect(plan.tasks.length).toBeLessThanOrEqual(opts.maxWorkers);
        expect(plan.tasks.every((t) => t.parts.length > 0)).toBe(true);
        const flat = plan.tasks.flatMap((t) => t.parts);
        expect(flat.length).toBe(plan.parts.length);
        expect(flat.every((p, i) => p === plan.parts[i])).toBe(true);
        // Fewer, fatter workers: a second worker only once the first has a part per stream.
        if (plan.tasks.length > 1) expect(plan.tasks.every((t) => t.parts.length >= opts.streamsPerWorker)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    [0, 1],
    [1, 1],
    [OSS.MIN_PART_SIZE - 1, 1],
    [OSS.MIN_PART_SIZE, 1],
    [OSS.MIN_PART_SIZE + 1, 2],
  ])('size %i with 100 KB parts gives %i part(s)', (size, n) => {
    // Prepare
    const opts = { partSize: OSS.MIN_PART_SIZE };
    // Act
    const plan = planJob(size, opts);
    // Assess
    expect(plan.parts).toHaveLength(n);
    assertTiles(plan.parts, size);
  });

  it('small files get one part in auto mode', () => {
    // Act
    const plan = planJob(OSS.MIN_PART_SIZE - 1);
    // Assess
    expect(plan.parts).toEqual([{ partNumber: 1, start: 0, end: OSS.MIN_PART_SIZE - 1 }]);
    expect(plan.tasks).toHaveLength(1);
  });
});

describe('choosePartSize', () => {
  it('grows a requested part size to a multiple of 1 MiB that fits 10,000 parts', () => {
    // Prepare
    const size = 2 * 1024 * UNITS.GB; // 2 TiB with 1 MiB parts would need 2,097,152 parts
    // Act
    const partSize = choosePartSize(size, { partSize: UNITS.MB });
    // Assess
    expect(partSize % UNITS.MB).toBe(0);
    expect(Math.ceil(size / partSize)).toBeLessThanOrEqual(10_000);
    expect(Math.ceil(size / (partSize - UNITS.MB))).toBeGreaterThan(10_000);
  });

  it('keeps a requested part size that fits', () => {
    // Act
    const partSize = choosePartSize(10 * UNITS.GB, { partSize: 64 * UNITS.MB });
    // Assess
    expect(partSize).toBe(64 * UNITS.MB);
  });

  it('auto size is a multiple of 1 MiB within [8 MiB, 5 GB] and keeps ≤ 10,000 parts (property)', () => {
    fc.assert(
      fc.property(sizeArb, optsArb, (size, opts) => {
        // Act
        const partSize = choosePartSize(size, { ...opts, partSize: 'auto' });
        // Assess
        expect(partSize % UNITS.MB).toBe(0);
        expect(partSize).toBeGreaterThanOrEqual(8 * UNITS.MB);
        expect(partSize).toBeLessThanOrEqual(OSS.MAX_PART_SIZE);
        expect(Math.ceil(size / partSize)).toBeLessThanOrEqual(10_000);
      }),
    );
  });

  it.each([
    ['partSize', 1, { partSize: 1000 }],
    ['partSize', 1, { partSize: 6 * UNITS.GB }],
    ['size', -1, {}],
    ['size', 1.5, {}],
    ['size', 60 * 1024 * UNITS.GB * 1024, {}],
  ])('refuses bad %s (%s) with InvalidInputError naming it', (field, size, opts) => {
    // Act
    const act = () => choosePartSize(size as number, opts as { partSize?: number });
    // Assess
    expect(act).toThrow(InvalidInputError);
    expect(act).toThrow(new RegExp(`^${field}: .*Fix: `));
  });
});

describe('groupIntoTasks / replanMissing', () => {
  it('re-plans exactly the missing parts (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 1, max: 500 })),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 16 }),
        (n, done, maxWorkers, streamsPerWorker) => {
          // Prepare
          const parts = splitParts(n * OSS.MIN_PART_SIZE, OSS.MIN_PART_SIZE);
          const doneSet = new Set(done);
          // Act
          const tasks = replanMissing(parts, done, { maxWorkers, streamsPerWorker });
          // Assess
          const missing = parts.filter((p) => !doneSet.has(p.partNumber));
          expect(tasks.flatMap((t) => t.parts)).toEqual(missing);
          expect(tasks.every((t) => t.parts.length > 0)).toBe(true);
          expect(tasks.length).toBeLessThanOrEqual(maxWorkers);
        },
      ),
    );
  });

  it('returns no tasks when every part is done', () => {
    // Prepare
    const parts = splitParts(3 * OSS.MIN_PART_SIZE, OSS.MIN_PART_SIZE);
    // Act
    const tasks = replanMissing(parts, [1, 2, 3]);
    // Assess
    expect(tasks).toEqual([]);
  });

  it('refuses a zero worker count, naming maxWorkers', () => {
    // Act
    const act = () => groupIntoTasks(splitParts(10, 10), { maxWorkers: 0 });
    // Assess
    expect(act).toThrow(/^maxWorkers: /);
  });
});

describe('workers "auto" (the job default)', () => {
  const TWO_GIB = 2 * UNITS.GB;

  it('plans every job up to 2 GiB exactly as 16 workers did, whatever the streams, part size and capacity (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TWO_GIB }), optsArb, fc.integer({ min: 1, max: 300 }), (size, opts, cap) => {
        // Prepare
        const old = { partSize: opts.partSize, streamsPerWorker: opts.streamsPerWorker, maxWorkers: Math.min(PLAN_DEFAULTS.maxWorkers, cap) };
        // Act
        const workers = resolveWorkers('auto', size, cap);
        // Assess
        expect(workers).toBe(Math.min(16, cap));
        expect(planJob(size, { ...old, maxWorkers: workers })).toEqual(planJob(size, old));
      }),
      { numRuns: 200 },
    );
  });

  it('grows with the size, one worker per 128 MiB, never past the capacity or below 16 within it (property)', () => {
    fc.assert(
      fc.property(sizeArb, sizeArb, fc.integer({ min: 1, max: 300 }), (a, b, cap) => {
        // Prepare
        const [small, large] = a <= b ? [a, b] : [b, a];
        // Act
        const ws = resolveWorkers('auto', small, cap);
        const wl = resolveWorkers('auto', large, cap);
        // Assess
        expect(wl).toBeGreaterThanOrEqual(ws);
        expect(wl).toBeLessThanOrEqual(cap);
        expect(ws).toBeGreaterThanOrEqual(Math.min(16, cap));
        if (wl < cap && wl > 16) expect(wl).toBe(Math.ceil(large / (128 * UNITS.MB)));
      }),
      { numRuns: 300 },
    );
  });

  it('defaults to FC\'s instance quota less the coordinator, and leaves a number as it is', () => {
    // Act and Assess: 14.68 GB and 10.774 GB, the published reference files.
    expect(AUTO_WORKERS.cap).toBe(99);
    expect(resolveWorkers('auto', 14.68e9)).toBe(99);
    expect(resolveWorkers('auto', 10.774e9)).toBe(81);
    expect(resolveWorkers('auto', 2 * UNITS.GB + 1)).toBe(17);
    expect(resolveWorkers(300, 1)).toBe(300);
  });

  it('a source kind whose one server carries every connection caps "auto" (SFTP: 16), and a number still wins (property)', () => {
    fc.assert(
      fc.property(sizeArb, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (size, cap, kindCap) => {
        // Act
        const capped = resolveWorkers('auto', size, cap, kindCap);
        const free = resolveWorkers('auto', size, cap);
        // Assess
        expect(capped).toBe(Math.min(free, kindCap));
        expect(resolveWorkers(40, size, cap, kindCap)).toBe(40);
      }),
      { numRuns: 200 },
    );
    expect(capabilitiesOf('sftp').autoWorkersCap).toBe(16);
    expect(resolveWorkers('auto', 14.68e9, 99, capabilitiesOf('sftp').autoWorkersCap)).toBe(16);
    expect(capabilitiesOf('http').autoWorkersCap).toBeUndefined();
  });

  it('refuses a capacity of 0, naming it', () => {
    // Act
    const act = () => resolveWorkers('auto', 10, 0);
    // Assess
    expect(act).toThrow(/^cap: /);
  });
});
