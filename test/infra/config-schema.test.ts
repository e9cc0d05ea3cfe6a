/**
 * validateConfig: defaults, one test per refusal (each names its key), and properties of the sizing arithmetic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  scheduleProblem,
  DEFAULTS,
  PART_BUFFER_MEMORY_FRACTION,
  memoryBudgetProblem,
  memoryProblem,
  partSizeProblem,
  validateConfig,
  vcpuProblem,
} from '../../infra/config-schema.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { FC, OSS, UNITS } from '../../shared/limits.ts';
import { DIGEST, baseValues, configOf, rawConfig } from './harness.ts';

function refusal(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err;
    throw err;
  }
  throw new Error('expected an InvalidInputError, but the config was accepted');
}

describe('validateConfig: defaults', () => {
  it('fills every documented default and freezes the result', () => {
    // Prepare
    const values = baseValues();
    // Act
    const c = configOf(values);
    // Assess
    expect(c.namePrefix).toBe('ossferry-dev');
    expect(c.names).toEqual({
      service: 'ossferry-dev',
      coordinatorFunction: 'ossferry-dev-coordinator',
      workerFunction: 'ossferry-dev-worker',
      serviceRole: 'ossferry-dev-fc-service',
      triggerRole: 'ossferry-dev-oss-trigger',
      policyPrefix: 'ossferry-dev-fc-service',
      asyncFailureQueue: 'ossferry-dev-async-failures',
    });
    expect(c.coordinator).toEqual(DEFAULTS.coordinator);
    expect(c.worker).toEqual(DEFAULTS.worker);
    expect(c.transfer).toEqual({ streamsPerWorker: 8, gzipLevel: 1 });
    expect(c.logging).toEqual({ project: 'ossferry-dev-logs-1234567890123456', logstore: 'ossferry', retentionDays: 30, shardCount: 2, dashboard: true });
    expect(c.vpc).toEqual({ mode: 'none' });
    expect(c.image.reference).toBe(`registry-vpc.cn-hangzhou.aliyuncs.com/acme/ossferry@${DIGEST}`);
    expect(c.statusPrefix).toBe('ossferry/status/');
    expect(c.abortIncompleteUploadsDays).toBe(3);
    expect(c.sweep).toEqual({ enabled: true, schedule: '0 0 3 * * *', olderThanSeconds: 86_400 });
    expect(c.archiveRules).toEqual([]);
    expect(c.warnings).toEqual([expect.stringMatching(/^alarms\.contactGroups is empty: .*pulumi config set --path 'alarms\.contactGroups\[0\]'/)]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.worker)).toBe(true);
    expect(Object.isFrozen(c.destinations[0])).toBe(true);
  });

  it('defaults to the engine\'s own fan-out and part sizing: 99 workers at most (quota 100 less the coordinator), parts "auto"', () => {
    // Act
    const byDefault = configOf(baseValues());
    const fixed = configOf({ ...baseValues(), transfer: { partSizeMb: 64 } });
    const auto = configOf({ ...baseValues(), transfer: { partSizeMb: 'auto' } });
    // Assess
    expect(byDefault.worker.maxInstances).toBe(99);
    expect(byDefault.transfer.partSizeBytes).toBeUndefined();
    expect(fixed.transfer.partSizeBytes).toBe(64 * UNITS.MB);
    expect(auto.transfer.partSizeBytes).toBeUndefined();
  });

  it('accepts numbers and booleans in the string form Pulumi stores top-level values in', () => {
    // Prepare
    const values = { ...baseValues(), abortIncompleteUploadsDays: '7', internetAccess: 'false' };
    // Act
    const c = configOf(values);
    // Assess
    expect(c.abortIncompleteUploadsDays).toBe(7);
    expect(c.internetAccess).toBe(false);
  });

  it('warns about a mutable image tag', () => {
    // Prepare
    const values = { ...baseValues(), image: { namespace: 'acme', repo: 'ossferry', tag: 'latest' } };
    // Act
    const c = configOf(values);
    // Assess
    expect(c.image.reference).toBe('registry-vpc.cn-hangzhou.aliyuncs.com/acme/ossferry:latest');
    expect(c.warnings.join('\n')).toMatch(/image\.tag "latest" is mutable/);
  });
});

const rule = (over: Record<string, unknown> = {}) => ({
  name: 'r',
  sourceBucket: 'acme-logs',
  sourcePrefix: 'in/',
  destinationBucket: 'acme-logs',
  destinationPrefix: 'out/',
  ...over,
});

/** [rule, values change, key the message must name, words it must contain]. One row per refusal rule. */
const REFUSALS: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ['memory not a multiple of 64 MB', { worker: { memoryMb: 4000 } }, 'ossferry:worker.memoryMb', /multiple of 64/],
  ['memory below FC minimum', { coordinator: { memoryMb: 64, vcpu: 0.05 } }, 'ossferry:coordinator.memoryMb', /between 128 and 32768/],
  ['memory above FC maximum', { worker: { memoryMb: 32832, vcpu: 16 } }, 'ossferry:worker.memoryMb', /between 128 and 32768/],
  ['vCPU off the 0.05 grid', { worker: { vcpu: 1.03 } }, 'ossferry:worker.vcpu', /steps of 0.05/],
  ['vCPU:GB ratio above 1:1', { worker: { memoryMb: 2048, vcpu: 4 } }, 'ossferry:worker.vcpu', /ratio of 1:1 to 1:4.*use 0.5-2 vCPU/],
  ['vCPU:GB ratio below 1:4', { coordinator: { memoryMb: 4096, vcpu: 0.5 } }, 'ossferry:coordinator.vcpu', /ratio/],
  ['disk size not 512 or 10240', { worker: { diskMb: 2048 } }, 'ossferry:worker.diskMb', /512 or 10240/],
  ['timeout above 86400 s', { worker: { timeoutSeconds: 86_401 }, coordinator: { timeoutSeconds: 86_401 } }, 'ossferry:coordinator.timeoutSeconds', /86400/],
  ['coordinator outlived by its workers', { worker: { timeoutSeconds: 7200 }, coordinator: { timeoutSeconds: 3600 } }, 'ossferry:coordinator.timeoutSeconds', /shorter than worker/],
  ['instance concurrency above 100', { coordinator: { instanceConcurrency: 101 } }, 'ossferry:coordinator.instanceConcurrency', /between 1 and 100/],
  ['worker max instances 0', { worker: { maxInstances: 0 } }, 'ossferry:worker.maxInstances', /between 1 and 300/],
  ['async retries above 8', { coordinator: { asyncRetryAttempts: 9 } }, 'ossferry:coordinator.asyncRetryAttempts', /0 and 8/],
  ['part size above 5 GB', { transfer: { partSizeMb: 5121, streamsPerWorker: 1 }, worker: { memoryMb: 16384, vcpu: 4 } }, 'ossferry:transfer.partSizeMb', /5 GB/],
  ['part size below 100 KB', { transfer: { partSizeMb: 0 } }, 'ossferry:transfer.partSizeMb', /100 KB/],
  ['part buffers over the memory budget', { transfer: { partSizeMb: 256, streamsPerWorker: 16 } }, 'ossferry:transfer.streamsPerWorker', /exceeds 60% of worker.memoryMb/],
  ['auto parts (up to 256 MiB) over a small worker\'s budget', { worker: { memoryMb: 2048, vcpu: 1 } }, 'ossferry:transfer.streamsPerWorker', /partSize \(auto, up to 256 MB\).*exceeds 60% of worker.memoryMb \(2048 MB\)/],
  ['part size neither auto nor a number', { transfer: { partSizeMb: 'big' } }, 'ossferry:transfer.partSizeMb', /must be "auto" or a whole number of MB/],
  ['gzip level 9', { transfer: { gzipLevel: 9 } }, 'ossferry:transfer.gzipLevel', /0, 1, 2 or 3/],
  ['archive rule that re-triggers itself', { archiveRules: [rule({ destinationPrefix: 'in/archive/' })] }, 'ossferry:archiveRules[0].destinationPrefix', /re-trigger itself/],
  ['archive rule that triggers another', { archiveRules: [rule({ sourceSuffix: '.csv' }), rule({ name: 'b', sourcePrefix: 'out/', destinationPrefix: 'final/' })] }, 'ossferry:archiveRules[0].destinationPrefix', /re-trigger/],
  ['archive rule without a destination bucket', { archiveRules: [{ name: 'x', sourceBucket: 'acme-logs' }] }, 'ossferry:archiveRules[0].destinationBucket', /required/],
  ['log retention above 3650 days', { logging: { retentionDays: 4000 } }, 'ossferry:logging.retentionDays', /3650/],
  ['invalid SLS project name', { logging: { project: 'Bad_Name' } }, 'ossferry:logging.project', /SLS project name/],
  ['VPC create without a zone', { vpc: { mode: 'create' } }, 'ossferry:vpc.zoneId', /required when vpc.mode is "create"/],
  ['existing VPC without vSwitches', { vpc: { mode: 'existing', vpcId: 'vpc-a', securityGroupId: 'sg-a' } }, 'ossferry:vpc.vswitchIds', /at least one vSwitch/],
  ['existing VPC without a security group', { vpc: { mode: 'existing', vpcId: 'vpc-a', vswitchIds: ['vsw-a'] } }, 'ossferry:vpc.securityGroupId', /required/],
  ['unknown VPC mode', { vpc: { mode: 'shared' } }, 'ossferry:vpc.mode', /"none", "create" or "existing"/],
  ['image with both tag and digest', { image: { namespace: 'acme', repo: 'ossferry', tag: 'v1', digest: DIGEST } }, 'ossferry:image.digest', /exactly one/],
  ['image with neither tag nor digest', { image: { namespace: 'acme', repo: 'ossferry' } }, 'ossferry:image.digest', /exactly one/],
  ['image digest malformed', { image: { namespace: 'acme', repo: 'ossferry', digest: 'sha256:xyz' } }, 'ossferry:image.digest', /64 hex/],
  ['image missing', { image: undefined }, 'ossferry:image', /required/],
  ['status bucket missing', { statusBucket: undefined }, 'ossferry:statusBucket', /required/],
  ['status prefix without trailing slash', { statusPrefix: 'status' }, 'ossferry:statusPrefix', /end with "\/"/],
  ['destination bucket name invalid', { destinations: [{ bucket: 'Acme_Dst' }] }, 'ossferry:destinations[0].bucket', /OSS bucket name/],
  ['nowhere to write', { destinations: [] }, 'ossferry:destinations', /could write nowhere/],
  ['allowed source host malformed', { allowedSourceHosts: ['not a host!'] }, 'ossferry:allowedSourceHosts', /not a host name/],
  ['allowed OSS endpoint with a scheme', { allowedOssEndpoints: ['https://oss.corp.example'] }, 'ossferry:allowedOssEndpoints', /not a host or host:port \(leave the scheme out\)/],
  ['allowed OSS endpoint with a path', { allowedOssEndpoints: ['oss.corp.example/x'] }, 'ossferry:allowedOssEndpoints', /path/],
  ['SFTP fingerprint malformed', { sftpHostKeys: { 'sftp.acme.example': 'md5:aa:bb' } }, 'ossferry:sftpHostKeys.sftp.acme.example', /SHA256 fingerprint/],
  ['SFTP hosts without the private key secret', { sftpHostKeys: { 'sftp.acme.example': `SHA256:${'B'.repeat(43)}` } }, 'ossferry:sftpPrivateKey', /required when sftpHostKeys/],
  ['secret set as plain text', { sftpPrivateKey: '(set as plain text; value not shown)' }, 'ossferry:sftpPrivateKey', /secret/],
  ['unknown top-level key', { workerMemory: 4096 }, 'ossferry:workerMemory', /not a known setting/],
  ['unknown nested key', { worker: { memroyMb: 4096 } }, 'ossferry:worker.memroyMb', /not a known setting/],
  ['abort days 0', { abortIncompleteUploadsDays: '0' }, 'ossferry:abortIncompleteUploadsDays', /between 1 and 365/],
  ['name prefix with uppercase', { namePrefix: 'OssFerry' }, 'ossferry:namePrefix', /lowercase/],
  ['log level unknown', { logLevel: 'verbose' }, 'ossferry:logLevel', /debug, info, warn or error/],
  ['sweep schedule with five cron fields', { sweep: { schedule: '0 3 * * *' } }, 'ossferry:sweep.schedule', /has 5 fields; an FC timer cron has six.*Fix: pulumi config set --path sweep\.schedule '0 0 3 \* \* \*'/],
  ['sweep schedule not a cron field', { sweep: { schedule: '0 0 3 * * mon;rm' } }, 'ossferry:sweep.schedule', /field "mon;rm" is not a cron field/],
  ['sweep schedule every 0m', { sweep: { schedule: '@every 0m' } }, 'ossferry:sweep.schedule', /at least every 1m/],
  ['sweep schedule unknown shorthand', { sweep: { schedule: '@daily' } }, 'ossferry:sweep.schedule', /"@every <n>m" or "@every <n>h"/],
  ['sweep grace period not a duration', { sweep: { olderThan: 'a day' } }, 'ossferry:sweep.olderThan', /"a day" is not a duration; use e\.g\. 24h/],
  ['sweep grace period under an hour', { sweep: { olderThan: '10m' } }, 'ossferry:sweep.olderThan', /at least 1h/],
  ['sweep enabled not a boolean', { sweep: { enabled: 'yes' } }, 'ossferry:sweep.enabled', /true or false/],
  [
    'archive rules that overflow the 4 KB function environment',
    {
      archiveRules: Array.from({ length: 12 }, (_, i) => ({
        name: `rule-${i}`,
        sourceBucket: `acme-src-${i}`,
        sourcePrefix: `${'p'.repeat(150)}/`,
        destinationBucket: 'acme-archive',
        destinationPrefix: `${'d'.repeat(150)}-${i}/`,
      })),
    },
    'ossferry:archiveRules',
    /over FC's 4096-byte limit/,
  ],
  ['structured value that is not JSON', { worker: '{memoryMb: 4096' }, 'ossferry:worker', /expected object|object/i],
];

describe('validateConfig: deleteSourceAfterVerify', () => {
  it('warns that a deleting rule needs versioning on its source bucket, naming the fix', () => {
    // Prepare
    const values = { ...baseValues(), archiveRules: [rule(), rule({ name: 'move', sourcePrefix: 'drop/', destinationPrefix: 'moved/', deleteSourceAfterVerify: true })] };
    // Act
    const c = configOf(values);
    // Assess
    const warned = c.warnings.filter((w) => w.includes('deleteSourceAfterVerify'));
    expect(warned).toEqual([expect.stringMatching(/^archiveRules\[1\] \("move"\) sets deleteSourceAfterVerify: OSS has no conditional DELETE.*versioning is Enabled on source bucket acme-logs\. Fix: enable versioning on the source bucket/)]);
  });
});

describe('validateConfig: each refusal names its key', () => {
  it.each(REFUSALS)('refuses %s', (_what, change, field, words) => {
    // Prepare
    const values: Record<string, unknown> = { ...baseValues(), ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete values[k];
    // Act
    const err = refusal(() => configOf(values));
    // Assess
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
    expect(err.message).toMatch(words);
    expect(err.message).toMatch(/Fix: /);
  });

  it('refuses a missing alicloud:region', () => {
    // Prepare
    const raw = rawConfig(baseValues(), { region: undefined });
    // Act
    const err = refusal(() => validateConfig(raw));
    // Assess
    expect(err.field).toBe('alicloud:region');
    expect(err.message).toMatch(/pulumi config set alicloud:region/);
  });

  it('refuses a missing alicloud:accountId', () => {
    // Prepare
    const raw = rawConfig(baseValues(), { accountId: undefined });
    // Act
    const err = refusal(() => validateConfig(raw));
    // Assess
    expect(err.field).toBe('alicloud:accountId');
  });
});

describe('sizing arithmetic (properties)', () => {
  it('accepts memory exactly when it is a multiple of 64 within 128..32768', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100, max: 40_000 }), (mb) => {
        // Prepare / Act
        const problem = memoryProblem(mb);
        // Assess
        const valid = mb >= FC.MIN_MEMORY_MB && mb <= FC.MAX_MEMORY_MB && mb % 64 === 0;
        expect(problem === undefined).toBe(valid);
      }),
    );
  });

  it('accepts vCPU exactly when on the 0.05 grid and memory(GB)/vCPU is within [1, 4]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 320 }), fc.integer({ min: 2, max: 512 }), (steps, memSteps) => {
        // Prepare
        const vcpu = steps / 20;
        const memoryMb = memSteps * 64;
        // Act
        const problem = vcpuProblem(vcpu, memoryMb);
        // Assess: the reference uses exact rationals (memoryMb/1024 GB per vcpu).
        const ratioOk = memoryMb * 20 >= 1024 * steps && memoryMb * 20 <= 4096 * steps;
        expect(problem === undefined).toBe(ratioOk);
        if (problem) expect(problem).toMatch(/ratio/);
      }),
    );
  });

  it('rejects vCPU values off the 0.05 grid', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 16, noNaN: true }), (vcpu) => {
        // Prepare
        fc.pre(Math.abs(vcpu * 20 - Math.round(vcpu * 20)) > 1e-6);
        // Act
        const problem = vcpuProblem(vcpu, 4096);
        // Assess
        expect(problem).toMatch(/steps of 0.05/);
      }),
    );
  });

  it('accepts part buffers exactly when they fit 60% of worker memory, and the suggested memory fits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1024 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 2, max: 512 }),
        (partMb, streams, conc, memSteps) => {
          // Prepare
          const t = { partSizeBytes: partMb * UNITS.MB, streamsPerWorker: streams };
          const worker = { memoryMb: memSteps * 64, instanceConcurrency: conc };
          // Act
          const problem = memoryBudgetProblem(t, worker);
          // Assess
          const fits = partMb * streams * conc * UNITS.MB <= Math.floor(worker.memoryMb * UNITS.MB * PART_BUFFER_MEMORY_FRACTION);
          expect(problem === undefined).toBe(fits);
          if (problem) {
            const suggested = Number(/at least (\d+)/.exec(problem)![1]);
            expect(suggested % 64).toBe(0);
            expect(memoryBudgetProblem(t, { ...worker, memoryMb: suggested })).toBeUndefined();
          }
        },
      ),
    );
  });

  it('accepts part sizes exactly within the OSS limits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 * UNITS.GB }), (bytes) => {
        // Prepare / Act
        const problem = partSizeProblem(bytes);
        // Assess
        expect(problem === undefined).toBe(bytes >= OSS.MIN_PART_SIZE && bytes <= OSS.MAX_PART_SIZE);
      }),
    );
  });

  it('validateConfig agrees with the budget rule for random worker sizings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 16, max: 128 }), (partMb, streams, memSteps) => {
        // Prepare
        const memoryMb = memSteps * 64;
        const vcpu = Math.max(0.05, Math.ceil((memoryMb / 1024 / 4) * 20) / 20);
        const values = { ...baseValues(), worker: { memoryMb, vcpu }, transfer: { partSizeMb: partMb, streamsPerWorker: streams } };
        const fits = partMb * streams * UNITS.MB <= Math.floor(memoryMb * UNITS.MB * PART_BUFFER_MEMORY_FRACTION);
        // Act
        let field: string | undefined;
        try {
          configOf(values);
        } catch (err) {
          field = (err as InvalidInputError).field;
        }
        // Assess
        expect(field).toBe(fits ? undefined : 'ossferry:transfer.streamsPerWorker');
      }),
      { numRuns: 200 },
    );
  });
});

describe('sweep schedule (property)', () => {
  it('accepts six cron fields and "@every <n>m|h" (n ≥ 1); refuses other field counts', () => {
    const field = fc.constantFrom('*', '0', '30', '0-5', '*/15', '1,2,3', '?', 'MON-FRI', '1-5/2');
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 999 }), fc.constantFrom('m', 'h'), (fields, n, unit) => {
        // Act
        const cron = scheduleProblem(fields.join(' '));
        const every = scheduleProblem(`@every ${n}${unit}`);
        // Assess
        expect(cron === undefined).toBe(fields.length === 6);
        expect(every).toBeUndefined();
      }),
    );
  });
});
