/**
 * The provider-schema check (infra/check/schema-check.ts) against the facts read from the provider's source:
 * one failing input per rule kind, the old `vpcId` input refused, the fixture naming its provider commit,
 * and the camelCase mapping checked against @pulumi/alicloud's own input types.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadProviderSchema } from '../../infra/check/mocks.ts';
import { checkPolicyRules } from '../../infra/check/policy-rules.ts';
import { checkResourceInputs, pulumiNames, type RuleKind } from '../../infra/check/schema-check.ts';
import { RESOURCES } from './fixtures/extract-provider-schema.ts';

const schema = loadProviderSchema();
const check = (type: string, inputs: Record<string, unknown>) => checkResourceInputs(schema, type, 'r', inputs);
const rules = (type: string, inputs: Record<string, unknown>) => check(type, inputs).map((v) => `${v.rule} ${v.path}`);

const T = {
  service: 'alicloud:fc/service:Service',
  fn: 'alicloud:fc/v2Function:V2Function',
  async: 'alicloud:fc/functionAsyncInvokeConfig:FunctionAsyncInvokeConfig',
  policy: 'alicloud:ram/policy:Policy',
  repo: 'alicloud:cr/repo:Repo',
  index: 'alicloud:log/storeIndex:StoreIndex',
  project: 'alicloud:log/project:Project',
  alarm: 'alicloud:cms/alarm:Alarm',
};

const validService = () => ({ name: 'svc', vpcConfig: { vswitchIds: ['vsw-1'], securityGroupId: 'sg-1' } });
const validRepo = () => ({ name: 'ossferry', namespace: 'acme', summary: 'image', repoType: 'PRIVATE' });

describe('provider schema fixture', () => {
  it('names the provider repository and the commit the facts were read from, for every resource type', () => {
    // Prepare
    const tokens = Object.keys(RESOURCES);
    // Act
    const recorded = Object.keys(schema.resources);
    // Assess
    expect(schema.provider.repository).toBe('github.com/aliyun/terraform-provider-alicloud');
    expect(schema.provider.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(recorded.sort()).toEqual(tokens.sort());
    for (const t of tokens) expect(schema.resources[t]!.file).toBe(`alicloud/resource_alicloud_${RESOURCES[t]}.go`);
  });

  it('maps every settable provider field to an input of the @pulumi/alicloud resource', () => {
    // Prepare
    const require = createRequire(import.meta.url);
    const pkg = path.dirname(require.resolve('@pulumi/alicloud/package.json'));
    const unmapped: string[] = [];
    // Act
    for (const [token, r] of Object.entries(schema.resources)) {
      const [, mod, , cls] = /^alicloud:([a-z]+)\/([a-zA-Z0-9]+):([A-Za-z0-9]+)$/.exec(token)!;
      const base = `${token.split(':')[1]!.split('/')[1]!}.d.ts`.toLowerCase();
      const file = `${pkg}/${mod}/${readdirSync(`${pkg}/${mod}`).find((f) => f.toLowerCase() === base)}`;
      const dts = readFileSync(file, 'utf8');
      const args = dts.slice(dts.indexOf(`export interface ${cls}Args {`));
      const body = args.slice(0, args.indexOf('\n}'));
      const declared = new Set([...body.matchAll(/^\s{4}(\w+)\??:/gm)].map((m) => m[1]!));
      for (const [tf, f] of Object.entries(r.fields)) {
        if (f.removed || (f.computed && !f.optional && !f.required)) continue;
        if (!pulumiNames(tf, f).some((n) => declared.has(n))) unmapped.push(`${token} ${tf} → ${pulumiNames(tf, f).join('|')}`);
      }
    }
    // Assess
    expect(unmapped).toEqual([]);
  });
});

describe('checkResourceInputs: one failing input per rule kind', () => {
  const cases: Array<[RuleKind, string, Record<string, unknown>, string]> = [
    ['unknown-field', T.service, { ...validService(), vpcConfig: { ...validService().vpcConfig, subnet: 'x' } }, 'vpcConfig.subnet'],
    ['computed-only', T.fn, { serviceName: 's', functionName: 'f', runtime: 'custom-container', handler: 'h', functionArn: 'acs:fc:…' }, 'functionArn'],
    ['removed', T.alarm, { name: 'a', project: 'acs_fc', metric: 'm', contactGroups: ['g'], operator: '>' }, 'operator'],
    ['required', T.repo, { name: 'ossferry', namespace: 'acme', repoType: 'PRIVATE' }, 'summary'],
    ['type', T.fn, { serviceName: 's', functionName: 'f', runtime: 'custom-container', handler: 'h', memorySize: '512' }, 'memorySize'],
    ['max-items', T.service, { name: 'svc', vpcConfig: [validService().vpcConfig, validService().vpcConfig] }, 'vpcConfig'],
    ['min-items', T.index, { project: 'p', logstore: 'l', fieldSearches: [] }, 'fieldSearches'],
    ['conflicts', T.policy, { policyName: 'p', policyDocument: '{}', document: '{}' }, 'document'],
    ['length', T.repo, { ...validRepo(), name: 'r'.repeat(31) }, 'name'],
    ['range', T.async, { serviceName: 's', functionName: 'f', maximumRetryAttempts: 9 }, 'maximumRetryAttempts'],
    ['enum', T.repo, { ...validRepo(), repoType: 'SECRET' }, 'repoType'],
    ['pattern', T.project, { projectName: 'has space' }, 'projectName'],
    ['non-empty', T.async, { serviceName: '', functionName: 'f' }, 'serviceName'],
    ['json', T.policy, { policyName: 'p', policyDocument: '{not json' }, 'policyDocument'],
    ['unknown-resource', 'alicloud:fc/function:Function', {}, ''],
  ];
  for (const [rule, type, inputs, at] of cases) {
    it(`refuses ${rule} (${type} ${at || 'resource'})`, () => {
      // Prepare: the input above
      // Act
      const found = check(type, inputs);
      // Assess
      expect(found.map((v) => `${v.rule} ${v.path}`)).toContain(`${rule} ${at}`);
      expect(found.find((v) => v.rule === rule)!.message.length).toBeGreaterThan(10);
    });
  }

  it('refuses the old fc.Service vpcConfig.vpcId input: the provider derives it (Computed-only)', () => {
    // Prepare
    const old = { name: 'svc', vpcConfig: { vpcId: 'vpc-bp1example', vswitchIds: ['vsw-1'], securityGroupId: 'sg-1' } };
    // Act
    const found = check(T.service, old);
    // Assess
    expect(found).toEqual([expect.objectContaining({ rule: 'computed-only', path: 'vpcConfig.vpcId' })]);
    expect(found[0]!.message).toMatch(/Computed-only/);
  });

  it('accepts valid inputs, and flags exactly one added unknown field whatever its name', () => {
    // Prepare
    const known = new Set(['name', 'namePrefix', 'description', 'tags', 'internetAccess', 'role', 'logConfig', 'vpcConfig', 'nasConfig', 'tracingConfig', 'publish']);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,20}$/).filter((k) => !known.has(k)),
        (extra) => {
          // Act
          const clean = rules(T.service, validService());
          const dirty = rules(T.service, { ...validService(), [extra]: 'x' });
          // Assess
          expect(clean).toEqual([]);
          expect(dirty).toEqual([`unknown-field ${extra}`]);
        },
      ),
    );
  });
});

describe('checkPolicyRules: one failing input per deploy rule', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [T.policy, { policyName: 'p', policyDocument: '{}' }, 'rotateStrategy'],
    [T.fn, { serviceName: 's', functionName: 'f', runtime: 'custom-container', handler: 'h' }, 'instanceLifecycleConfig.preStop'],
    [T.async, { serviceName: 's', functionName: 'f', maximumRetryAttempts: 2 }, 'destinationConfig.onFailure'],
    [T.index, { project: 'p', logstore: 'l', fieldSearches: [{ name: 'message', type: 'json' }] }, 'fieldSearches[0].token'],
  ];
  for (const [type, inputs, at] of cases) {
    it(`refuses ${type} without ${at}`, () => {
      // Prepare: the input above
      // Act
      const found = checkPolicyRules(type, 'r', inputs);
      // Assess
      expect(found).toEqual([expect.objectContaining({ rule: 'policy', path: at })]);
    });
  }
});
