/**
 * Test harness for the Pulumi program: mocks that record every resource, a config builder, and helpers to
 * resolve Outputs. Import this before any infra/ module so setMocks runs first (Pulumi docs: unit testing, setMocks before the program loads).
 */
import { afterEach, beforeEach, expect } from 'vitest';
import * as pulumi from '@pulumi/pulumi';
import { validateConfig } from '../../infra/config-schema.ts';
import type { OssferryStackConfig, RawStackConfig } from '../../infra/config-schema.ts';
import { isSecretWire, providerMocks, unwrap } from '../../infra/check/mocks.ts';
import type { Violation } from '../../infra/check/schema-check.ts';

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const recorded: Recorded[] = [];
/** Every provider-schema violation seen since the last reset (infra/check/schema-check.ts). */
export const violations: Violation[] = [];

export { isSecretWire, unwrap };

/** Provider-faithful mocks (infra/check/mocks.ts): each resource's inputs are checked against the provider schema. */
export async function installMocks(): Promise<void> {
  await pulumi.runtime.setMocks(
    providerMocks({
      onResource: (r) => {
        recorded.push({ type: r.type, name: r.name, inputs: r.inputs });
        violations.push(...r.violations);
      },
    }),
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

/**
 * Per-test bookkeeping of every stack test file: records cleared before each test, and every stack a test
 * builds must pass the provider-schema check (infra/check/schema-check.ts) after it.
 */
export function checkEveryStack(): void {
  beforeEach(() => {
    recorded.length = 0;
    violations.length = 0;
  });
  afterEach(() => {
    expect(violations).toEqual([]);
  });
}
