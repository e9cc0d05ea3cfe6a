/**
 * RAM policy documents as pure data: least privilege and packing under the 6144-byte limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CR_PULL_ACTIONS,
  MAX_POLICY_BYTES,
  UNSCOPABLE_ACTIONS,
  packPolicyDocuments,
  serviceRoleStatements,
  triggerRoleStatements,
  vpcStatements,
} from '../../infra/policy.ts';
import type { PolicyDocument, PolicyStatement } from '../../infra/policy.ts';
import { baseValues, configOf } from './harness.ts';

const actionsOf = (ss: PolicyStatement[]) => ss.flatMap((s) => s.Action);

describe('serviceRoleStatements', () => {
  it('grants exactly the OSS, FC, log and image actions the functions use', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    expect(new Set(actionsOf(ss))).toEqual(
      new Set([
        'oss:GetObject',
        'oss:PutObject',
        'oss:ListParts',
        'oss:AbortMultipartUpload',
        'oss:ListMultipartUploads',
        'oss:ListObjects',
        'fc:InvokeFunction',
        'log:PostLogStoreLogs',
        'oss:DeleteObject',
        'fc:InvokeFunction',
        'log:PostLogStoreLogs',
        ...CR_PULL_ACTIONS,
        'cr:GetAuthorizationToken',
        'mns:SendMessage',
      ]),
    );
  });

  it('may delete a destination object (one whose CRC-64 check failed), but no source object', () => {
    // Prepare
    const c = configOf({ ...baseValues(), sources: [{ bucket: 'acme-src', prefix: 'in/' }] });
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    const deletable = ss.filter((s) => s.Action.includes('oss:DeleteObject')).flatMap((s) => s.Resource);
    expect(deletable).toEqual(['acs:oss:*:*:acme-dst/copies/*']);
  });

  it('may list only the status bucket (leases and the sweep read the status objects)', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    const listable = ss.filter((s) => s.Action.includes('oss:ListObjects')).flatMap((s) => s.Resource);
    expect(listable).toEqual([`acs:oss:*:*:${c.statusBucket}`]);
  });

  it('grants the image pull actions FC needs, on the configured repository only', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    const pull = ss.find((s) => s.Action.includes('cr:GetRepoTagManifest'))!;
    for (const a of ['cr:GetRepositoryTag', 'cr:GetRepoTagManifest', 'cr:GetArtifactTag', 'cr:PullRepository']) expect(pull.Action).toContain(a);
    expect(pull.Resource).toEqual(['acs:cr:cn-hangzhou:1234567890123456:repository/acme/ossferry', 'acs:cr:cn-hangzhou:1234567890123456:repository/acme/ossferry/*']);
  });

  it('lets FC send failed async events to the stack\'s queue and nowhere else', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    expect(ss.filter((s) => s.Action.includes('mns:SendMessage'))).toEqual([
      { Effect: 'Allow', Action: ['mns:SendMessage'], Resource: ['acs:mns:cn-hangzhou:1234567890123456:/queues/ossferry-dev-async-failures/messages'] },
    ]);
  });

  it('adds DeleteObject, DeleteObjectVersion and GetBucketVersioning only for the source of a rule that deletes after verify', () => {
    // Prepare
    const archiveRules = [
      { name: 'keep', sourceBucket: 'acme-a', sourcePrefix: 'in/', destinationBucket: 'acme-b', destinationPrefix: 'out/' },
      { name: 'move', sourceBucket: 'acme-c', sourcePrefix: 'drop/', sourceSuffix: '.bin', destinationBucket: 'acme-b', destinationPrefix: 'moved/', deleteSourceAfterVerify: true },
    ];
    const c = configOf({ ...baseValues(), archiveRules });
    // Act
    const ss = serviceRoleStatements(c);
    // Assess
    const deletable = ss.filter((s) => s.Action.includes('oss:DeleteObject')).flatMap((s) => s.Resource);
    expect(deletable).toContain('acs:oss:*:*:acme-c/drop/*.bin');
    expect(deletable).not.toContain('acs:oss:*:*:acme-a/in/*');
    const versionDeletable = ss.filter((s) => s.Action.includes('oss:DeleteObjectVersion')).flatMap((s) => s.Resource);
    expect(versionDeletable).toEqual(['acs:oss:*:*:acme-c/drop/*.bin']);
    expect(ss.filter((s) => s.Action.includes('oss:GetBucketVersioning')).flatMap((s) => s.Resource)).toEqual(['acs:oss:*:*:acme-c']);
  });

  it('uses Resource "*" only for the listed unscopable actions, each with a reason', () => {
    // Prepare
    const c = configOf({ ...baseValues(), sources: [{ bucket: 'acme-src', prefix: 'a/' }] });
    // Act
    const ss = [...serviceRoleStatements(c), ...vpcStatements(c, { vpcId: 'vpc-1', vswitchIds: ['vsw-1'] }), ...triggerRoleStatements(c)];
    // Assess
    for (const s of ss) {
      if (!s.Resource.includes('*')) continue;
      expect(s.Resource).toEqual(['*']);
      for (const a of s.Action) expect(UNSCOPABLE_ACTIONS[a]?.length ?? 0, `reason for ${a}`).toBeGreaterThan(20);
    }
    for (const s of ss) for (const r of s.Resource) if (r !== '*') expect(r).toMatch(/^acs:(oss|fc|log|cr|vpc|mns):/);
  });

  it('lets the trigger role invoke only the coordinator', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const ss = triggerRoleStatements(c);
    // Assess
    expect(actionsOf(ss)).toEqual(['fc:InvokeFunction']);
    expect(ss[0]!.Resource.every((r) => r.endsWith('/functions/ossferry-dev-coordinator'))).toBe(true);
  });
});

describe('packPolicyDocuments', () => {
  const arbStatement = fc.record({
    Effect: fc.constant('Allow' as const),
    Action: fc.array(fc.constantFrom('oss:GetObject', 'oss:PutObject', 'oss:ListParts'), { minLength: 1, maxLength: 3 }),
    Resource: fc.array(fc.stringMatching(/^acs:oss:\*:\*:[a-z]{3,20}\/[a-z\/]{0,200}\*$/), { minLength: 1, maxLength: 60 }),
  });

  it('keeps every document under the byte limit and loses no grant', () => {
    fc.assert(
      fc.property(fc.array(arbStatement, { minLength: 1, maxLength: 30 }), (statements) => {
        // Prepare
        const grants = (ss: PolicyStatement[]) => new Set(ss.flatMap((s) => s.Resource.flatMap((r) => s.Action.map((a) => `${a} ${r}`))));
        // Act
        const docs = packPolicyDocuments(statements);
        // Assess
        for (const d of docs) expect(Buffer.byteLength(d)).toBeLessThanOrEqual(MAX_POLICY_BYTES);
        const packed = docs.flatMap((d) => (JSON.parse(d) as PolicyDocument).Statement);
        expect(grants(packed)).toEqual(grants(statements));
      }),
      { numRuns: 100 },
    );
  });

  it('uses one document when everything fits', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const docs = packPolicyDocuments(serviceRoleStatements(c));
    // Assess
    expect(docs).toHaveLength(1);
    expect(JSON.parse(docs[0]!).Version).toBe('1');
  });
});
