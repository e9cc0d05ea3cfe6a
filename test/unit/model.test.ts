import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { UNITS } from '../../shared/limits.ts';
import { bestUniformStartup, CALIBRATION_TOLERANCE, calibrationRows, fitStartupAndRamp } from '../../shared/model/calibration.ts';
import { instanceBandwidthGbps, instanceStartDelay, MODEL_DEFAULTS, predict, regionProfile, type ModelInput } from '../../shared/model/index.ts';
import { rampBytes, rampSeconds } from '../../shared/model/time.ts';
import { resolveWorkers } from '../../shared/plan.ts';

const sizeArb = fc.integer({ min: 0, max: 2 * 1024 * UNITS.GB });
const inputArb = fc.record({
  size: sizeArb,
  sourceKind: fc.constantFrom('http' as const, 'oss' as const, 'sftp' as const),
  region: fc.constantFrom('cn-hangzhou', 'cn-qingdao', 'ap-northeast-2', 'eu-central-1'),
  partSize: fc.oneof(fc.constant('auto' as const), fc.integer({ min: 100 * 1024, max: 5 * UNITS.GB })),
  workers: fc.oneof(fc.constant('auto' as const), fc.integer({ min: 1, max: 300 })),
  streamsPerWorker: fc.integer({ min: 1, max: 64 }),
  instanceQuota: fc.integer({ min: 2, max: 1000 }),
  workerVcpu: fc.constantFrom(0.5, 1, 2, 4, 8, 16),
  connectionBytesPerSecond: fc.integer({ min: 100_000, max: 1e9 }),
  requestLatencySeconds: fc.double({ min: 0, max: 1, noNaN: true }),
  startupSeconds: fc.double({ min: 0, max: 10, noNaN: true }),
  connectionRampSeconds: fc.double({ min: 0, max: 10, noNaN: true }),
});

/** Inputs whose plans are valid (an explicit part size may be too small for a huge size: the planner grows it). */
const predictOk = (i: ModelInput) => predict(i);

describe('time and cost model', () => {
  it('more bandwidth is never slower: per connection, per instance, per account, more vCPU (property)', () => {
    fc.assert(
      fc.property(inputArb, fc.double({ min: 1, max: 10, noNaN: true }), (input, k) => {
        // Prepare
        const base = predictOk(input);
        const p = base.params;
        // Act
        const faster = [
          predictOk({ ...input, connectionBytesPerSecond: Math.min(12.5e9, p.connectionBytesPerSecond * k) }),
          predictOk({ ...input, instanceGbps: Math.min(100, p.instanceGbps * k) }),
          predictOk({ ...input, accountGbps: Math.min(1000, p.accountGbps * k) }),
          predictOk({ ...input, workerVcpu: Math.min(16, p.workerVcpu * k) }),
        ];
        // Assess
        for (const f of faster) expect(f.time.seconds).toBeLessThanOrEqual(base.time.seconds * (1 + 1e-12));
      }),
      { numRuns: 200 },
    );
  });

  it('more data is never faster or cheaper at the same fan-out (property)', () => {
    fc.assert(
      fc.property(inputArb, sizeArb, (input, other) => {
        // Prepare
        const [small, large] = input.size <= other ? [input.size, other] : [other, input.size];
        // Act
        const a = predictOk({ ...input, size: small });
        const b = predictOk({ ...input, size: large });
        // Assess: the planner may add workers for more data (then a job can get faster); at equal fan-out it never does.
        fc.pre(a.time.workers === b.time.workers && a.time.plan.partSize === b.time.plan.partSize);
        expect(b.time.seconds).toBeGreaterThanOrEqual(a.time.seconds * (1 - 1e-9));
        expect(b.cost.totalUsd).toBeGreaterThanOrEqual(a.cost.totalUsd * (1 - 1e-9));
      }),
      { numRuns: 300 },
    );
  });

  it('more data never costs less egress, whatever the plan (property)', () => {
    fc.assert(
      fc.property(inputArb, sizeArb, (input, other) => {
        // Prepare
        const [small, large] = input.size <= other ? [input.size, other] : [other, input.size];
        // Act
        const a = predictOk({ ...input, size: small });
        const b = predictOk({ ...input, size: large });
        // Assess. Compute and requests follow the plan: auto part sizes grow in 1 MiB steps and more parts let a
        // worker open more streams, so a little more data can mean fewer parts or a faster worker.
        expect(b.cost.egressUsd).toBeGreaterThanOrEqual(a.cost.egressUsd);
        expect(b.cost.egressGB).toBeGreaterThanOrEqual(a.cost.egressGB);
      }),
      { numRuns: 300 },
    );
  });

  it('no job beats the account bandwidth floor: time ≥ size ÷ account bandwidth (property)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        // Act
        const r = predictOk(input);
        // Assess
        const floor = input.size / ((r.params.accountGbps * 1e9) / 8);
        expect(r.time.floorSeconds).toBeCloseTo(floor, 9);
        expect(r.time.seconds).toBeGreaterThanOrEqual(floor);
        expect(r.time.transferSeconds).toBeGreaterThanOrEqual(floor);
      }),
      { numRuns: 300 },
    );
  });

  it('fan-out stays within the instance quota, the coordinator counted (property)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        // Act
        const r = predictOk(input);
        // Assess
        expect(r.time.workers).toBeLessThanOrEqual(input.instanceQuota - 1);
        expect(r.time.workers).toBeLessThanOrEqual(resolveWorkers(input.workers, input.size, input.instanceQuota - 1));
        expect(r.cost.invocations).toBe(r.time.workers + 1);
        expect(r.time.plan.tasks.flatMap((t) => t.parts)).toEqual(r.time.plan.parts);
      }),
      { numRuns: 300 },
    );
  });

  it('an SFTP source fans out to 16 workers at most, whatever its size (one server carries every connection)', () => {
    // Act
    const sftp = predict({ size: 14.68e9, sourceKind: 'sftp' });
    const http = predict({ size: 14.68e9, sourceKind: 'http' });
    // Assess
    expect(sftp.time.workers).toBe(16);
    expect(http.time.workers).toBe(99);
  });

  it('a 10 GB job with a quota of 8 fans out to 7 workers and says which limit binds', () => {
    // Act
    const r = predict({ size: 10e9, sourceKind: 'http', instanceQuota: 8, workers: 100 });
    // Assess
    expect(r.time.workers).toBe(7);
    expect(r.time.fanOutCap).toBe(7);
    expect(r.time.bottleneck).toBe('source connections');
    expect(r.time.connections).toBe(7 * 8);
  });

  it('instances beyond the burst arrive at the growth rate', () => {
    // Assess: the coordinator is instance 0, so worker 98 is the 100th instance (last of a burst of 100).
    expect(instanceStartDelay(98, 100, 100)).toBe(0);
    expect(instanceStartDelay(99, 100, 100)).toBeCloseTo(0.6, 9);
    expect(instanceStartDelay(159, 100, 100)).toBeCloseTo(36.6, 9);
    expect(instanceStartDelay(159, 300, 300)).toBe(0);
  });

  it('region facts: burst, growth and account bandwidth; instance bandwidth by vCPU', () => {
    expect(regionProfile('cn-hangzhou')).toEqual({ region: 'cn-hangzhou', burstInstances: 300, growthPerMinute: 300, accountUploadGbps: 20 });
    expect(regionProfile('oss-ap-southeast-1')).toMatchObject({ burstInstances: 100, accountUploadGbps: 20 });
    expect(regionProfile('cn-qingdao')).toMatchObject({ burstInstances: 100, growthPerMinute: 100, accountUploadGbps: 10 });
    expect(regionProfile('ap-northeast-2').accountUploadGbps).toBe(2);
    expect([0.5, 2, 4, 6, 8, 16].map(instanceBandwidthGbps)).toEqual([1, 1, 1.5, 1.5, 2.5, 5]);
  });

  it('egress is billed by source kind and region', () => {
    const gib = UNITS.GB;
    expect(predict({ size: gib, sourceKind: 'http' }).cost.egressUsd).toBeCloseTo(0.09, 9);
    expect(predict({ size: gib, sourceKind: 'sftp' }).cost.egressUsd).toBe(0);
    expect(predict({ size: gib, sourceKind: 'oss', region: 'cn-hangzhou', sourceRegion: 'cn-hangzhou' }).cost.egressUsd).toBe(0);
    expect(predict({ size: gib, sourceKind: 'oss', region: 'cn-hangzhou', sourceRegion: 'cn-beijing' }).cost.egressUsd).toBeCloseTo(0.5 / 7.2, 9);
  });

  const outOfRange: Array<[keyof ModelInput, unknown]> = [
    ['workers', 0],
    ['workers', 301],
    ['streamsPerWorker', 65],
    ['instanceQuota', 1],
    ['workerVcpu', 17],
    ['workerMemoryGb', 64],
    ['instanceGbps', 0],
    ['accountGbps', -1],
    ['connectionBytesPerSecond', 0],
    ['connectionBytesPerSecond', Number.NaN],
    ['requestLatencySeconds', -0.1],
    ['startupSeconds', 1e6],
    ['connectionRampSeconds', -1],
    ['connectionRampSeconds', 601],
    ['connectionRampSeconds', Number.POSITIVE_INFINITY],
    ['burstInstances', 2.5],
    ['cuPriceUsd', -1],
    ['size', -1],
    ['region', 'Hangzhou!'],
    ['sourceRegion', ''],
    ['sourceKind', 'ftp'],
  ];
  it.each(outOfRange)('refuses %s = %s, naming the parameter and the fix', (name, value) => {
    // Act
    const act = () => predict({ size: 1e9, sourceKind: 'http', [name]: value } as ModelInput);
    // Assess
    expect(act).toThrow(InvalidInputError);
    try {
      act();
    } catch (e) {
      expect((e as InvalidInputError).field).toBe(name === 'sourceRegion' ? 'region' : name);
      expect((e as Error).message).toMatch(/Fix: /);
    }
  });
});

describe('calibration against the published fan-out', () => {
  it('reproduces all eight published figures within 25 % (the two "> 600 s" as lower bounds)', () => {
    // Act
    const rows = calibrationRows();
    // Assess
    expect(rows).toHaveLength(8);
    for (const r of rows) expect({ figure: `${r.label}@${r.instances}`, within: r.withinTolerance, error: r.error }).toMatchObject({ within: true });
    for (const r of rows) expect(Math.abs(r.error)).toBeLessThanOrEqual(CALIBRATION_TOLERANCE);
    for (const r of rows.filter((x) => x.lowerBound)) expect(r.modelSeconds).toBeGreaterThan(600);
    // Every reference run is one part per instance, one connection each.
    for (const r of rows) {
      expect(r.prediction.time.workers).toBe(r.instances);
      expect(r.prediction.time.connections).toBe(r.instances);
    }
  });

  it('the model\'s start-up and ramp defaults are the fit to the 100-instance column', () => {
    // Act
    const fit = fitStartupAndRamp();
    // Assess
    expect({ startupSeconds: fit.startupSeconds, connectionRampSeconds: fit.connectionRampSeconds }).toEqual({
      startupSeconds: MODEL_DEFAULTS.startupSeconds,
      connectionRampSeconds: MODEL_DEFAULTS.connectionRampSeconds,
    });
    expect(fit.worstError).toBeLessThan(CALIBRATION_TOLERANCE);
  });

  it('without a ramp no constant start-up puts the whole 100-instance column within 25 %', () => {
    // Act
    const best = bestUniformStartup();
    // Assess
    expect(best.worstError).toBeGreaterThan(0.25);
  });
});

describe('connection ramp', () => {
  const rate = fc.double({ min: 1e3, max: 1e10, noNaN: true });
  // Whole bytes; a ramp of 0 or at least a millisecond (subnormal doubles only test the FPU).
  const ramp = fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 600, noNaN: true }));
  const bytes = fc.double({ min: 0, max: 1e13, noNaN: true }).map(Math.round);

  it('more bytes never take less time, a faster rate never more (property)', () => {
    fc.assert(
      fc.property(bytes, bytes, rate, fc.double({ min: 1, max: 100, noNaN: true }), ramp, (a, b, r, k, tau) => {
        // Prepare
        const [small, large] = a <= b ? [a, b] : [b, a];
        // Act
        const ts = rampSeconds(small, r, tau);
        const tl = rampSeconds(large, r, tau);
        const faster = rampSeconds(large, r * k, tau);
        // Assess
        expect(tl).toBeGreaterThanOrEqual(ts);
        expect(faster).toBeLessThanOrEqual(tl * (1 + 1e-12));
        // A ramp only ever costs time: never faster than the steady rate, at most τ/2 slower.
        expect(tl).toBeGreaterThanOrEqual((large / r) * (1 - 1e-12));
        expect(tl).toBeLessThanOrEqual((large / r + tau / 2) * (1 + 1e-12));
      }),
      { numRuns: 500 },
    );
  });

  it('rampSeconds inverts rampBytes: rate·t²/(2τ) before τ, rate·(t − τ/2) after (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e4, noNaN: true }), rate, fc.double({ min: 0.001, max: 600, noNaN: true }), (t, r, tau) => {
        // Act
        const b = rampBytes(t, r, tau);
        // Assess
        expect(b).toBeCloseTo(t < tau ? (r * t * t) / (2 * tau) : r * (t - tau / 2), 0);
        expect(rampSeconds(b, r, tau)).toBeCloseTo(t, 6);
      }),
      { numRuns: 500 },
    );
  });

  it('τ = 0 is the constant-rate model: each worker\'s slowest stream or its shared limit at the steady rate (property)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        // Act
        const r = predictOk({ ...input, connectionRampSeconds: 0 });
        // Assess
        const p = r.params;
        const cap = Math.min((p.instanceGbps * 1e9) / 8, (p.workerVcpu / p.workerCpuSecondsPerGiB) * UNITS.GB);
        r.time.plan.tasks.forEach((t, i) => {
          const streams = Math.max(1, Math.min(p.streamsPerWorker, t.parts.length));
          const perStream = new Array<number>(streams).fill(0);
          t.parts.forEach((x, k) => (perStream[k % streams]! += x.end - x.start));
          const bytes = perStream.reduce((a, x) => a + x, 0);
          const expected = Math.max(Math.max(...perStream) / p.connectionBytesPerSecond, bytes / cap);
          expect(r.time.perWorker[i]!.transferSeconds).toBeCloseTo(expected, 9);
        });
        expect(r.time.transferSeconds).toBeCloseTo(Math.max(r.time.floorSeconds, ...r.time.perWorker.map((w) => w.startDelaySeconds + w.latencySeconds + w.transferSeconds)), 9);
      }),
      { numRuns: 200 },
    );
  });

  it('a longer ramp is never faster (property)', () => {
    fc.assert(
      fc.property(inputArb, fc.double({ min: 0, max: 10, noNaN: true }), (input, more) => {
        // Act
        const a = predictOk(input);
        const b = predictOk({ ...input, connectionRampSeconds: input.connectionRampSeconds + more });
        // Assess
        expect(b.time.seconds).toBeGreaterThanOrEqual(a.time.seconds * (1 - 1e-12));
      }),
      { numRuns: 200 },
    );
  });

  it('is paid once per connection: one stream with 4 parts ramps once', () => {
    // Prepare: 4 × 100 MB parts on one stream at 10 MB/s with a 4 s ramp, no other limit.
    const input = { sourceKind: 'http' as const, size: 4 * 100 * UNITS.MB, partSize: 100 * UNITS.MB, workers: 1, streamsPerWorker: 1, connectionBytesPerSecond: 10e6, instanceGbps: 100, requestLatencySeconds: 0, connectionRampSeconds: 4 };
    // Act
    const r = predict(input);
    // Assess
    expect(r.time.transferSeconds).toBeCloseTo(input.size / 10e6 + 2, 9);
  });

  it('several connections ramping into a shared cap reach it sooner: the capped sum ramps over τ·cap/(n·rate)', () => {
    // Prepare: 8 streams × 100 MB/s against 1 Gbit/s (125 MB/s): the cap is reached after 4 s × 125/800.
    const size = 8 * 64 * UNITS.MB;
    // Act
    const r = predict({ size, sourceKind: 'http', partSize: 64 * UNITS.MB, workers: 1, connectionBytesPerSecond: 100e6, requestLatencySeconds: 0, connectionRampSeconds: 4 });
    // Assess
    expect(r.time.bottleneck).toBe('instance bandwidth');
    expect(r.time.transferSeconds).toBeCloseTo(size / 125e6 + (4 * 125) / 800 / 2, 9);
  });
});

describe('cost model', () => {
  it('bills workers for their own transfer or their share of the account bandwidth, and the coordinator for the whole job', () => {
    // Prepare: 4 workers × 8 streams × 1 GB/s per connection against a 1 Gbit/s account: the account binds.
    const base = { size: 40e9, sourceKind: 'http' as const, workers: 4, connectionBytesPerSecond: 1e9, instanceGbps: 100, workerCpuSecondsPerGiB: 0.01, requestLatencySeconds: 0, connectionRampSeconds: 0 };
    // Act
    const bound = predict({ ...base, accountGbps: 1 });
    const free = predict({ ...base, accountGbps: 1000 });
    // Assess
    expect(bound.time.bottleneck).toBe('account bandwidth');
    // Each of the 4 workers moves at most a quarter of 1 Gbit/s: together 4 × the floor.
    expect(bound.cost.workerSeconds).toBeCloseTo(4 * bound.time.floorSeconds, 6);
    expect(free.cost.workerSeconds).toBeCloseTo(free.time.perWorker.reduce((a, w) => a + w.transferSeconds, 0), 6);
    expect(bound.cost.coordinatorSeconds).toBe(bound.time.seconds);
    expect(bound.cost.vcpuSeconds).toBeCloseTo(bound.cost.workerSeconds * 2 + bound.cost.coordinatorSeconds * 0.25, 6);
    expect(bound.cost.computeUnits).toBeCloseTo(bound.cost.vcpuSeconds + 0.15 * bound.cost.gbSeconds + 5 * 0.0075, 6);
  });

  it('workers beyond the burst wait for FC and that wait is not billed', () => {
    // Prepare: 250 workers in a region with a burst of 100: 151 of them arrive over the next 1.5 minutes.
    const input = { size: 250 * 64 * UNITS.MB, sourceKind: 'http' as const, partSize: 64 * UNITS.MB, workers: 250, streamsPerWorker: 1, instanceQuota: 300, region: 'cn-qingdao', accountGbps: 1000 };
    // Act
    const r = predict(input);
    // Assess
    expect(r.time.workers).toBe(250);
    expect(r.time.bottleneck).toBe('instance scaling');
    expect(r.time.perWorker.at(-1)!.startDelaySeconds).toBeCloseTo(((250 + 1 - 100) * 60) / 100, 9);
    expect(r.cost.workerSeconds).toBeCloseTo(r.time.perWorker.reduce((a, w) => a + w.latencySeconds + w.transferSeconds, 0), 6);
  });
});

describe('one worker', () => {
  it('its streams take the parts in turn: 9 equal parts on 8 streams take two part-times, 8 parts one', () => {
    // Prepare
    const part = 10 * UNITS.MB;
    const input = { sourceKind: 'http' as const, partSize: part, workers: 1, streamsPerWorker: 8, connectionBytesPerSecond: 10e6, instanceGbps: 100, requestLatencySeconds: 0, connectionRampSeconds: 0 };
    // Act
    const eight = predict({ ...input, size: 8 * part });
    const nine = predict({ ...input, size: 9 * part });
    // Assess
    expect(eight.time.transferSeconds).toBeCloseTo(part / 10e6, 9);
    expect(nine.time.transferSeconds).toBeCloseTo((2 * part) / 10e6, 9);
    expect(nine.time.connections).toBe(8);
    expect(nine.time.bottleneck).toBe('source connections');
  });

  it('all its streams share the instance bandwidth', () => {
    // Act: 8 streams × 100 MB/s against 1 Gbit/s (125 MB/s).
    const r = predict({ size: 8 * 64 * UNITS.MB, sourceKind: 'http', partSize: 64 * UNITS.MB, workers: 1, connectionBytesPerSecond: 100e6, requestLatencySeconds: 0, connectionRampSeconds: 0 });
    // Assess
    expect(r.time.bottleneck).toBe('instance bandwidth');
    expect(r.time.transferSeconds).toBeCloseTo((8 * 64 * UNITS.MB) / 125e6, 9);
  });
});
