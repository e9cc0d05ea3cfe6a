/**
 * shared/job-defaults.ts: the deployment's transfer.* and object.* defaults fill only what a job leaves unset.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ArchiveRule } from '../../shared/archive-rules.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { applyJobDefaults, applyRuleDefaults, applyTriggerJobDefaults, jobDefaultsFromEnv, type JobDefaults, type ObjectDefaults } from '../../shared/job-defaults.ts';
import { parseJob } from '../../shared/job.ts';

const MiB = 1024 * 1024;
const defaultsArb: fc.Arbitrary<JobDefaults> = fc.record(
  {
    partSize: fc.integer({ min: 100 * 1024, max: 5 * 1024 * MiB }),
    streamsPerWorker: fc.integer({ min: 1, max: 64 }),
    gzipLevel: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
  },
  { requiredKeys: [] },
);
const specArb = fc.record(
  {
    mode: fc.constantFrom('copy', 'archive'),
    partSize: fc.oneof(fc.constant('auto' as const), fc.integer({ min: 100 * 1024, max: 5 * 1024 * MiB })),
    streamsPerWorker: fc.integer({ min: 1, max: 64 }),
    gzipLevel: fc.constantFrom(0, 1, 2, 3),
  },
  { requiredKeys: ['mode'] },
).map((s) => {
  const spec: Record<string, unknown> = { source: 'https://files.example/a.bin', destination: 'oss://acme-dst/k', ...s };
  if (spec.mode === 'copy') delete spec.gzipLevel;
  return spec;
});

describe('applyJobDefaults', () => {
  it('keeps every explicit option and fills only the unset ones', () => {
    fc.assert(
      fc.property(specArb, defaultsArb, (spec, d) => {
        // Act
        const job = parseJob(applyJobDefaults(spec, d));
        // Assess
        expect(job.partSize).toBe(spec.partSize ?? d.partSize ?? 'auto');
        expect(job.streamsPerWorker).toBe(spec.streamsPerWorker ?? d.streamsPerWorker ?? 8);
        if (job.mode === 'archive') expect(job.gzipLevel).toBe(spec.gzipLevel ?? d.gzipLevel ?? 1);
      }),
    );
  });

  it('changes nothing without defaults, and leaves non-objects for parseJob to refuse', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        // Act / Assess
        expect(parseJob(applyJobDefaults(spec, {}))).toEqual(parseJob(spec));
      }),
    );
    for (const bad of [null, 'x', [1], 3]) expect(applyJobDefaults(bad, { partSize: MiB })).toBe(bad);
  });
});

describe('applyRuleDefaults / applyTriggerJobDefaults', () => {
  it('gives the default level only to rules without one', () => {
    // Prepare
    const base = { sourceBucket: 'a-in', sourcePrefix: '', sourceSuffix: '', destinationBucket: 'a-out', destinationPrefix: '', deleteSourceAfterVerify: false };
    const rules: ArchiveRule[] = [{ name: 'none', ...base }, { name: 'own', ...base, gzipLevel: 0 }];
    // Act
    const out = applyRuleDefaults(rules, { gzipLevel: 3 });
    // Assess
    expect(out.map((r) => r.gzipLevel)).toEqual([3, 0]);
    expect(applyRuleDefaults(rules, {})).toEqual(rules);
  });

  it('sets part size and streams of a trigger-started job', () => {
    fc.assert(
      fc.property(defaultsArb, (d) => {
        // Prepare
        const job = parseJob({ source: 'oss://a-in/k', destination: 'oss://a-out/k.gz', mode: 'archive', gzipLevel: 2 });
        // Act
        const out = applyTriggerJobDefaults(job, d);
        // Assess
        expect(out.partSize).toBe(d.partSize ?? 'auto');
        expect(out.streamsPerWorker).toBe(d.streamsPerWorker ?? 8);
        expect(out.mode === 'archive' && out.gzipLevel).toBe(2);
      }),
    );
  });
});

describe('jobDefaultsFromEnv', () => {
  it('reads the three variables and nothing when unset', () => {
    // Prepare
    const env = { [FUNCTION_ENV.PART_SIZE_BYTES]: String(64 * MiB), [FUNCTION_ENV.STREAMS_PER_WORKER]: '12', [FUNCTION_ENV.GZIP_LEVEL]: '2' };
    // Act / Assess
    expect(jobDefaultsFromEnv(env)).toEqual({ partSize: 64 * MiB, streamsPerWorker: 12, gzipLevel: 2 });
    expect(jobDefaultsFromEnv({})).toEqual({});
  });

  it('refuses a bad value naming the variable and the fix', () => {
    for (const [name, value] of [
      [FUNCTION_ENV.PART_SIZE_BYTES, '10'],
      [FUNCTION_ENV.STREAMS_PER_WORKER, '0'],
      [FUNCTION_ENV.GZIP_LEVEL, '9'],
      [FUNCTION_ENV.GZIP_LEVEL, 'fast'],
    ] as const) {
      // Act
      let err: unknown;
      try {
        jobDefaultsFromEnv({ [name]: value });
      } catch (e) {
        err = e;
      }
      // Assess
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).field).toBe(name);
      expect((err as Error).message).toMatch(/Fix: set /);
    }
  });
});

describe('object defaults', () => {
  const classes = fc.constantFrom('Standard' as const, 'IA' as const, 'Archive' as const);
  const sse = fc.oneof(
    fc.record({ serverSideEncryption: fc.constantFrom('AES256' as const, 'SM4' as const) }),
    fc.record({ serverSideEncryption: fc.constant('KMS' as const), kmsKeyId: fc.constantFrom('k1', 'k2') }, { requiredKeys: ['serverSideEncryption'] }),
  );
  const objectArb = fc
    .tuple(fc.record({ storageClass: classes, acl: fc.constantFrom('private' as const, 'default' as const), tags: fc.constant({ team: 'a' }) }, { requiredKeys: [] }), fc.option(sse, { nil: undefined }))
    .map(([o, e]): ObjectDefaults => ({ ...o, ...(e ?? {}) }));

  it('property: a job gets every default it leaves unset, keeps its own fields, and always parses (encryption is one setting)', () => {
    fc.assert(
      fc.property(objectArb, objectArb, (own, defaults) => {
        // Act
        const job = parseJob(applyJobDefaults({ source: 'https://files.example/a.bin', destination: 'oss://acme-dst/k', object: own }, { object: defaults }));
        // Assess
        for (const k of ['storageClass', 'acl', 'tags', 'serverSideEncryption'] as const) expect(job.object[k]).toEqual(own[k] ?? defaults[k]);
        expect(job.object.kmsKeyId).toEqual(own.serverSideEncryption !== undefined ? own.kmsKeyId : defaults.kmsKeyId);
        expect(job.object.preserve).toBe(true);
      }),
    );
  });

  it('reads OSSFERRY_OBJECT_DEFAULTS; a bad value names the variable and the stack key to fix', () => {
    // Act
    const ok = jobDefaultsFromEnv({ [FUNCTION_ENV.OBJECT_DEFAULTS]: JSON.stringify({ storageClass: 'IA', acl: 'private' }) });
    const bad = () => jobDefaultsFromEnv({ [FUNCTION_ENV.OBJECT_DEFAULTS]: JSON.stringify({ storageClass: 'Glacier' }) });
    const notJson = () => jobDefaultsFromEnv({ [FUNCTION_ENV.OBJECT_DEFAULTS]: '{' });
    // Assess
    expect(ok.object).toEqual({ storageClass: 'IA', acl: 'private' });
    expect(bad).toThrow(/^OSSFERRY_OBJECT_DEFAULTS\.storageClass: .*Fix: set stack config object\.\*/);
    expect(notJson).toThrow(/^OSSFERRY_OBJECT_DEFAULTS: is not JSON/);
  });

  it('a trigger job takes the object defaults', () => {
    // Prepare
    const job = parseJob({ source: 'oss://logs/in/a.log', destination: 'oss://arch/a.log.gz', mode: 'archive' });
    // Act
    const withDefaults = applyTriggerJobDefaults(job, { object: { storageClass: 'Archive', tags: { k: 'v' } } });
    // Assess
    expect(withDefaults.object).toEqual({ preserve: true, storageClass: 'Archive', tags: { k: 'v' } });
  });
});
