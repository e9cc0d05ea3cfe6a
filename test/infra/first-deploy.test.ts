/**
 * What a first real deploy needs beyond a schema-valid stack (issue: "deploys the first time"), one test per
 * point: RAM policy rotation, ACR repo name length, SLS JSON token, lifecycle hooks, the async failure
 * destination, alarms, and the on-demand instance quota.
 */
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OssferryStackConfig } from '../../infra/config-schema.ts';
import type { StackOutputs } from '../../infra/program.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_LIFECYCLE } from '../../shared/function-env.ts';
import { baseValues, checkEveryStack, configOf, installMocks, ofType, one, promiseOf, settle, unwrap } from './harness.ts';

let createStack: (c: OssferryStackConfig) => StackOutputs;

beforeAll(async () => {
  await installMocks();
  ({ createStack } = await import('../../infra/program.ts'));
});
checkEveryStack();

const T = {
  fn: 'alicloud:fc/v2Function:V2Function',
  async: 'alicloud:fc/functionAsyncInvokeConfig:FunctionAsyncInvokeConfig',
  policy: 'alicloud:ram/policy:Policy',
  index: 'alicloud:log/storeIndex:StoreIndex',
  queue: 'alicloud:message/serviceQueue:ServiceQueue',
  alarm: 'alicloud:cms/alarm:Alarm',
};

async function build(values: Record<string, unknown>): Promise<StackOutputs> {
  const out = createStack(configOf(values));
  await promiseOf(pulumi.all([out.serviceName, out.coordinatorFunctionArn, out.asyncFailureQueue, out.alarmNames]));
  await settle();
  return out;
}
const inputs = (type: string, name: string) => unwrap(one(type, name).inputs) as Record<string, any>;

function refusal(values: Record<string, unknown>): InvalidInputError {
  try {
    configOf(values);
  } catch (err) {
    if (err instanceof InvalidInputError) return err;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('RAM policies', () => {
  it('rotate old versions so the 6th document change does not fail', async () => {
    // Prepare
    const values = { ...baseValues(), archiveRules: [{ name: 'r', sourceBucket: 'acme-in', destinationBucket: 'acme-out' }] };
    // Act
    await build(values);
    // Assess
    const policies = ofType(T.policy).map((r) => unwrap(r.inputs) as Record<string, unknown>);
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const p of policies) expect(p.rotateStrategy).toBe('DeleteOldestNonDefaultVersionWhenLimitExceeded');
  });
});

describe('ACR repository name', () => {
  it('is refused above 30 characters, naming the key, the reason and the fix', () => {
    // Prepare
    const values = { ...baseValues(), image: { namespace: 'acme', repo: 'r'.repeat(31), digest: `sha256:${'ab'.repeat(32)}`, createRepository: true } };
    // Act
    const err = refusal(values);
    // Assess
    expect(err.field).toBe('ossferry:image.repo');
    expect(err.message).toMatch(/2-30/);
    expect(err.message).toMatch(/pulumi config set/);
  });
});

describe('SLS index', () => {
  it('gives the JSON message field a token', async () => {
    // Prepare
    const values = baseValues();
    // Act
    await build(values);
    // Assess
    const fields = inputs(T.index, 'logging-index').fieldSearches as Array<Record<string, unknown>>;
    const json = fields.find((f) => f.type === 'json')!;
    expect(typeof json.token).toBe('string');
    expect((json.token as string).length).toBeGreaterThan(0);
    for (const f of fields.filter((x) => x.type === 'text')) expect(f.token).toBeTruthy();
  });
});

describe('lifecycle hooks', () => {
  it('configure pre-stop with a timeout on both functions, and no pre-freeze', async () => {
    // Prepare
    const values = baseValues();
    // Act
    await build(values);
    // Assess
    for (const role of ['coordinator', 'worker']) {
      const lc = inputs(T.fn, `-${role}`).instanceLifecycleConfig;
      expect(lc.preStop).toEqual({ handler: 'pre-stop', timeout: FUNCTION_LIFECYCLE.preStopTimeoutSeconds });
      expect(lc.preFreeze).toBeUndefined();
    }
  });
});

describe('failed async events', () => {
  it('go to an MNS queue the stack creates, as the coordinator async config onFailure destination', async () => {
    // Prepare
    const values = baseValues();
    // Act
    const out = await build(values);
    // Assess
    const queue = inputs(T.queue, 'async-failures-queue');
    expect(queue.queueName).toBe('ossferry-dev-async-failures');
    expect(await promiseOf(out.asyncFailureQueue)).toBe('ossferry-dev-async-failures');
    const asyncConfig = inputs(T.async, 'coordinator-async');
    expect(asyncConfig.destinationConfig).toEqual({
      onFailure: { destination: 'acs:mns:cn-hangzhou:1234567890123456:/queues/ossferry-dev-async-failures/messages' },
    });
  });
});

describe('alarms', () => {
  it('fire on errors and both throttle kinds of each function, to the configured contact groups', async () => {
    // Prepare
    const values = { ...baseValues(), alarms: { contactGroups: ['ops'] } };
    // Act
    const out = await build(values);
    // Assess
    const alarms = ofType(T.alarm).map((r) => unwrap(r.inputs) as Record<string, any>);
    expect(alarms.map((a) => a.metric).sort()).toEqual(
      ['FunctionConcurrencyThrottles', 'FunctionFunctionErrors', 'FunctionResourceThrottles'].flatMap((m) => [m, m]).sort(),
    );
    for (const a of alarms) {
      expect(a.project).toBe('acs_fc');
      expect(a.contactGroups).toEqual(['ops']);
      const [dims] = JSON.parse(a.metricDimensions);
      expect(dims).toMatchObject({ userId: '1234567890123456', region: 'cn-hangzhou', serviceName: 'ossferry-dev' });
      expect(['ossferry-dev-coordinator', 'ossferry-dev-worker']).toContain(dims.functionName);
    }
    expect(await promiseOf(out.alarmNames)).toHaveLength(6);
  });

  it('are not created without contact groups (the provider requires one), and config warns with the fix', async () => {
    // Prepare
    const values = baseValues();
    // Act
    await build(values);
    // Assess
    expect(ofType(T.alarm)).toHaveLength(0);
    expect(configOf(values).warnings.join('\n')).toMatch(/pulumi config set --path 'alarms\.contactGroups\[0\]'/);
  });
});

describe('on-demand instance quota', () => {
  it('refuses worker.maxInstances above the default regional quota of 100, with both fixes', () => {
    // Prepare
    const values = { ...baseValues(), worker: { maxInstances: 300 } };
    // Act
    const err = refusal(values);
    // Assess
    expect(err.field).toBe('ossferry:worker.maxInstances');
    expect(err.message).toMatch(/quota/);
    expect(err.message).toMatch(/pulumi config set --path worker\.maxInstances 100/);
    expect(err.message).toMatch(/pulumi config set instanceQuota 300/);
  });

  it('accepts it once instanceQuota says the quota was raised', () => {
    // Prepare
    const values = { ...baseValues(), worker: { maxInstances: 300 }, instanceQuota: '300' };
    // Act
    const c = configOf(values);
    // Assess
    expect(c.worker.maxInstances).toBe(300);
    expect(c.instanceQuota).toBe(300);
  });
});

describe('bad input on the new keys', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ alarms: { contactGroups: 'ops' } }, 'ossferry:alarms.contactGroups', /list of CloudMonitor contact group names.*pulumi config set --path 'alarms\.contactGroups\[0\]'/],
    [{ alarms: { contactGroup: ['ops'] } }, 'ossferry:alarms.contactGroup', /not a known setting.*pulumi config rm --path alarms\.contactGroup/],
    [{ instanceQuota: 'lots' }, 'ossferry:instanceQuota', /whole number.*pulumi config set instanceQuota/],
  ];
  for (const [extra, field, message] of cases) {
    it(`refuses ${JSON.stringify(extra)} naming ${field}, the reason and the fix`, () => {
      // Prepare
      const values = { ...baseValues(), ...extra };
      // Act
      const err = refusal(values);
      // Assess
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
    });
  }
});
