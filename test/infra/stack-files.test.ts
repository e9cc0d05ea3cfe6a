/**
 * Pulumi.yaml and the worked example Pulumi.prod.yaml: the runtime options this project needs, and an
 * example stack that passes validation (given the SFTP secret it tells the reader to set).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { NAMESPACE, validateConfig } from '../../infra/config-schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');
// js-yaml is what @pulumi/pulumi itself parses YAML with; load it from there rather than add a package.
const requireFromPulumi = createRequire(createRequire(import.meta.url).resolve('@pulumi/pulumi'));
const yaml = requireFromPulumi('js-yaml') as { load(text: string): unknown };

const load = (file: string) => yaml.load(readFileSync(resolve(ROOT, file), 'utf8')) as Record<string, any>;

describe('Pulumi.yaml', () => {
  it('runs infra/ with Node type stripping instead of ts-node', () => {
    // Prepare
    const project = load('Pulumi.yaml');
    // Act
    const options = project.runtime.options;
    // Assess
    expect(project.name).toBe('ossferry');
    expect(project.main).toBe('infra/');
    expect(project.runtime.name).toBe('nodejs');
    expect(options.typescript).toBe(false);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
  });
});

describe('Pulumi.prod.yaml', () => {
  it('is a valid stack once the SFTP key secret is set', () => {
    // Prepare
    const stack = load('Pulumi.prod.yaml').config as Record<string, unknown>;
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(stack)) {
      if (k.startsWith(`${NAMESPACE}:`)) values[k.slice(NAMESPACE.length + 1)] = v;
    }
    // Act
    const config = validateConfig({
      project: 'ossferry',
      stack: 'prod',
      region: stack['alicloud:region'] as string,
      accountId: stack['alicloud:accountId'] as string,
      values,
      secretKeys: ['sftpPrivateKey'],
      secrets: { sftpPrivateKey: pulumi.secret('placeholder') },
    });
    // Assess
    expect(config.namePrefix).toBe('ossferry-prod');
    expect(config.archiveRules.map((r) => r.name)).toEqual(['app-logs']);
    expect(config.vpc.mode).toBe('existing');
    expect(config.worker.maxInstances).toBe(32);
    // The one reminder: the example's deleting rule needs versioning on its source bucket (not visible at preview).
    expect(config.warnings).toEqual([expect.stringMatching(/^archiveRules\[0\] \("app-logs"\) sets deleteSourceAfterVerify: .*Fix: enable versioning on the source bucket/)]);
    expect(JSON.stringify(stack)).not.toMatch(/PRIVATE KEY/);
  });
});
