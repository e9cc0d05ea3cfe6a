/**
 * Stack config `object.*` (storage class, server-side encryption, tags, ACL): validated by the same schema as a
 * job's `object` options, written into the coordinator's environment only (OSSFERRY_OBJECT_DEFAULTS), and refused
 * by key with the fix. The program runs under the provider-faithful mocks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { baseValues, checkEveryStack, configOf, installMocks, one, promiseOf, settle, unwrap } from './harness.ts';
import type { OssferryStackConfig } from '../../infra/config-schema.ts';
import type { StackOutputs } from '../../infra/program.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';

let createStack: (c: OssferryStackConfig) => StackOutputs;

beforeAll(async () => {
  await installMocks();
  ({ createStack } = await import('../../infra/program.ts'));
});
checkEveryStack();

const FN = 'alicloud:fc/v2Function:V2Function';
const envOf = (name: string) => (unwrap(one(FN, name).inputs) as { environmentVariables: Record<string, string> }).environmentVariables;

describe('object.* stack config', () => {
  it('reaches the coordinator environment as the job defaults, and only the coordinator', async () => {
    // Prepare
    const object = { storageClass: 'IA', serverSideEncryption: 'KMS', kmsKeyId: 'key-1', tags: { team: 'data' }, acl: 'private' };
    const config = configOf({ ...baseValues(), object: JSON.stringify(object) });
    // Act
    const out = createStack(config);
    await promiseOf(out.coordinatorFunctionArn);
    await settle();
    // Assess
    expect(config.object).toEqual(object);
    expect(JSON.parse(envOf('-coordinator')[FUNCTION_ENV.OBJECT_DEFAULTS]!)).toEqual(object);
    expect(envOf('-worker')[FUNCTION_ENV.OBJECT_DEFAULTS]).toBeUndefined();
    expect(config.warnings.some((w) => /object\.serverSideEncryption is KMS.*kms:GenerateDataKey.*Fix:/.test(w))).toBe(true);
  });

  it('unset writes nothing', async () => {
    // Prepare
    const config = configOf(baseValues());
    // Act
    const out = createStack(config);
    await promiseOf(out.coordinatorFunctionArn);
    await settle();
    // Assess
    expect(config.object).toEqual({});
    expect(envOf('-coordinator')[FUNCTION_ENV.OBJECT_DEFAULTS]).toBeUndefined();
  });

  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown storage class', { storageClass: 'Glacier' }, /^ossferry:object\.storageClass: .*Fix: pulumi config set --path object\.storageClass IA/],
    ['kmsKeyId without KMS', { serverSideEncryption: 'AES256', kmsKeyId: 'k' }, /^ossferry:object\.kmsKeyId: only applies with serverSideEncryption KMS/],
    ['preserve (a per-job choice)', { preserve: false }, /^ossferry:object: .*preserve/],
    ['eleven tags', { tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`t${i}`, 'v'])) }, /^ossferry:object\.tags: has more than 10 tags/],
  ];
  for (const [label, object, message] of refusals) {
    it(`refuses ${label}, naming the key and the fix`, () => {
      // Act
      const act = () => configOf({ ...baseValues(), object: JSON.stringify(object) });
      // Assess
      expect(act).toThrow(message);
    });
  }
});
