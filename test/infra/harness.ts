/**
 * Test harness for the Pulumi program: mocks that record every resource, a config builder, and helpers to
 * resolve Outputs. Import this before any infra/ module so setMocks runs first (peers.md §3.1(a)).
 */
import * as pulumi from '@pulumi/pulumi';
import { validateConfig } from '../../infra/config-schema.ts';
import type { OssferryStackConfig, RawStackConfig } from '../../infra/config-schema.ts';

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const recorded: Recorded[] = [];

/** Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts specialSigKey / specialSecretSig). */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export function isSecretWire(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Strips secret wrappers, for asserting on values. */
export function unwrap(v: unknown): unknown {
  if (isSecretWire(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

/** Computed outputs a real provider would return, so ARNs and names resolve in tests. */
function computed(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const i = args.inputs as Record<string, string>;
  switch (args.type) {
    case 'alicloud:ram/role:Role':
      return { arn: `acs:ram::1234567890123456:role/${i.roleName}` };
    case 'alicloud:fc/v2Function:V2Function':
      return { functionArn: `acs:fc:cn-hangzhou:1234567890123456:services/${i.serviceName}.LATEST/functions/${i.functionName}` };
    case 'alicloud:vpc/network:Network':
      return { id: 'vpc-mock1' };
    case 'alicloud:vpc/switch:Switch':
      return { id: 'vsw-mock1' };
    default:
      return {};
  }
}

export async function installMocks(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        const extra = computed(args);
        const id = typeof extra.id === 'string' ? extra.id : `${args.name}-id`;
        return { id, state: { ...args.inputs, ...extra } };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    'ossferry',
    'dev',
    false,
  );
}

/** Waits until every resource registration has reached the mocks. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
}

export function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A minimal valid stack: one destination, image by digest. */
export function baseValues(): Record<string, unknown> {
  return {
    statusBucket: 'acme-status',
    destinations: JSON.stringify([{ bucket: 'acme-dst', prefix: 'copies/' }]),
    image: JSON.stringify({ namespace: 'acme', repo: 'ossferry', digest: DIGEST }),
  };
}

export function rawConfig(values: Record<string, unknown>, extra: Partial<RawStackConfig> = {}): RawStackConfig {
  return { project: 'ossferry', stack: 'dev', region: 'cn-hangzhou', accountId: '1234567890123456', values, secretKeys: [], ...extra };
}

export function configOf(values: Record<string, unknown>, extra: Partial<RawStackConfig> = {}): OssferryStackConfig {
  return validateConfig(rawConfig(values, extra));
}

export function ofType(type: string, from: Recorded[] = recorded): Recorded[] {
  return from.filter((r) => r.type === type);
}

export function one(type: string, nameEnds: string, from: Recorded[] = recorded): Recorded {
  const found = ofType(type, from).filter((r) => r.name.endsWith(nameEnds));
  if (found.length !== 1) throw new Error(`expected one ${type} named *${nameEnds}, found ${found.length}`);
  return found[0]!;
}
