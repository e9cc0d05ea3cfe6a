/**
 * RAM policy documents, built as plain data from the validated config so least privilege is unit-tested
 * without Pulumi (test/infra/policy.test.ts). The reference deployment grants AliyunOSSFullAccess and
 * AliyunFCFullAccess; this grants only what the functions call, on the configured bucket/prefix ARNs.
 *
 * ARN forms (FC's RAM documentation): OSS objects `acs:oss:*:*:<bucket>/<key>` (bucket names
 * are global, so region/account stay `*` as in the provider's own example; `*` inside the key is a wildcard),
 * buckets `acs:oss:*:*:<bucket>`, FC 2.0 functions `acs:fc:<region>:<account>:services/<svc>.<qualifier>/functions/<fn>`.
 */
import { ARCHIVE_SUFFIX } from '../shared/archive-rules.ts';
import { InvalidInputError } from '../shared/errors.ts';
import type { OssferryStackConfig } from './config-schema.ts';

export interface PolicyStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '1';
  Statement: PolicyStatement[];
}

/** RAM limits (and pulumi ram/policy.d.ts): a policy document is at most 6144 bytes. */
export const MAX_POLICY_BYTES = 6144;

/**
 * The only actions granted on Resource "*", and why they cannot be scoped. Anything else on "*" is a bug
 * (test/infra/policy.test.ts enforces it).
 */
export const UNSCOPABLE_ACTIONS: Readonly<Record<string, string>> = Object.freeze({
  'cr:GetAuthorizationToken':
    'issues the registry login token for the account; it acts on no repository, so RAM has no resource to scope it to (FC pulls images with the service role)',
  'ecs:CreateNetworkInterface':
    'FC creates the VPC ENI at run time; its id does not exist before creation (FC VPC access)',
  'ecs:DeleteNetworkInterface': 'ENIs FC created at run time have ids unknown when the policy is written',
  'ecs:DescribeNetworkInterfaces': 'Describe* list calls are not resource-scoped in RAM',
  'ecs:CreateNetworkInterfacePermission': 'the permission object is created at run time for an ENI with an unknown id',
  'ecs:DescribeNetworkInterfacePermissions': 'Describe* list calls are not resource-scoped in RAM',
  'ecs:DeleteNetworkInterfacePermission': 'permissions FC created at run time have ids unknown when the policy is written',
});

/**
 * OSS actions, named once. PutObject also authorises Initiate/UploadPart/CompleteMultipartUpload.
 * DeleteObject on destinations: a destination whose CRC-64 check fails after CompleteMultipartUpload is deleted
 * by the coordinator, so no unverified object is left behind looking like a finished copy (docs/deploy.md).
 */
const OSS_READ = ['oss:GetObject'];
const OSS_WRITE = ['oss:PutObject', 'oss:ListParts', 'oss:AbortMultipartUpload', 'oss:GetObject', 'oss:DeleteObject'];

/**
 * Image pull for custom containers, scoped to the one repository. FC's docs attach AliyunContainerRegistryReadOnlyAccess
 * (cr:Get*, cr:List*, cr:PullRepository); the default FC role reads tags and manifests with cr:GetRepositoryTag,
 * cr:GetRepoTagManifest and cr:GetArtifactTag. Those, the repository read and the tag listing are granted by
 * name (no wildcard actions: each grant is reviewable).
 */
export const CR_PULL_ACTIONS = Object.freeze([
  'cr:PullRepository',
  'cr:GetRepository',
  'cr:GetRepositoryTag',
  'cr:GetRepoTagManifest',
  'cr:GetArtifactTag',
  'cr:ListRepositoryTag',
]);

/** The async failure queue's send ARN, which is also the onFailure destination FC writes to. */
export const mnsQueueArn = (c: Pick<OssferryStackConfig, 'region' | 'accountId'>, queue: string) => `acs:mns:${c.region}:${c.accountId}:/queues/${queue}/messages`;

export const ossObjectArn = (bucket: string, pattern: string) => `acs:oss:*:*:${bucket}/${pattern}`;
export const ossBucketArn = (bucket: string) => `acs:oss:*:*:${bucket}`;

/** Both the unqualified and the qualified (LATEST, versions, aliases) forms of one FC 2.0 function. */
export function fcFunctionArns(c: Pick<OssferryStackConfig, 'region' | 'accountId'>, service: string, fn: string): string[] {
  const base = `acs:fc:${c.region}:${c.accountId}:services/${service}`;
  return [`${base}/functions/${fn}`, `${base}.*/functions/${fn}`];
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)].sort();

export interface NetworkIds {
  vpcId: string;
  vswitchIds: string[];
}

/**
 * The FC service role's statements. Both functions share the FC 2.0 service role (the role is per
 * service), so this is the union of what the coordinator and the workers call.
 */
export function serviceRoleStatements(c: OssferryStackConfig): PolicyStatement[] {
  const read = [
    ...c.sources.map((s) => ossObjectArn(s.bucket, `${s.prefix}*`)),
    ...c.archiveRules.map((r) => ossObjectArn(r.sourceBucket, `${r.sourcePrefix}*${r.sourceSuffix}`)),
  ];
  const write = [
    ...c.destinations.map((d) => ossObjectArn(d.bucket, `${d.prefix}*`)),
    ...c.archiveRules.map((r) => ossObjectArn(r.destinationBucket, `${r.destinationPrefix}*${ARCHIVE_SUFFIX}`)),
  ];
  const uploadBuckets = [...c.destinations.map((d) => d.bucket), ...c.archiveRules.map((r) => r.destinationBucket)];
  const deletes = c.archiveRules
    .filter((r) => r.deleteSourceAfterVerify)
    .map((r) => ossObjectArn(r.sourceBucket, `${r.sourcePrefix}*${r.sourceSuffix}`));

  const statements: PolicyStatement[] = [];
  const add = (Action: string[], Resource: string[]) => {
    if (Resource.length > 0) statements.push({ Effect: 'Allow', Action: uniq(Action), Resource: uniq(Resource) });
  };
  add(OSS_READ, read);
  add(OSS_WRITE, write);
  // Resume and the orphan sweep list a bucket's in-progress uploads: a bucket-level call.
  add(['oss:ListMultipartUploads'], uploadBuckets.map(ossBucketArn));
  // Only when some rule deletes its source after verification: the archived version by version id (OSS asks
  // for DeleteObjectVersion besides DeleteObject), after checking the bucket's versioning at job start.
  add(['oss:DeleteObject', 'oss:DeleteObjectVersion'], deletes);
  add(['oss:GetBucketVersioning'], c.archiveRules.filter((r) => r.deleteSourceAfterVerify).map((r) => ossBucketArn(r.sourceBucket)));
  // Job status objects.
  add(['oss:GetObject', 'oss:PutObject'], [ossObjectArn(c.statusBucket, `${c.statusPrefix}*`)]);
  // Job leases and the sweep list the status objects (a bucket-level call).
  add(['oss:ListObjects'], [ossBucketArn(c.statusBucket)]);
  // The coordinator fans out to the worker, and to nothing else.
  add(['fc:InvokeFunction'], fcFunctionArns(c, c.names.service, c.names.workerFunction));
  // FC ships stdout to the service's logstore with the service role.
  add(['log:PostLogStoreLogs'], [`acs:log:${c.region}:${c.accountId}:project/${c.logging.project}/logstore/${c.logging.logstore}`]);
  // Image pull: FC pulls with the service role, and image acceleration re-pulls on update.
  const repo = `acs:cr:${c.region}:${c.accountId}:repository/${c.image.namespace}/${c.image.repo}`;
  add([...CR_PULL_ACTIONS], [repo, `${repo}/*`]);
  add(['cr:GetAuthorizationToken'], ['*']);
  // FC delivers coordinator async events whose retries ran out to this queue with the service role.
  add(['mns:SendMessage'], [mnsQueueArn(c, c.names.asyncFailureQueue)]);
  return statements;
}

/**
 * VPC statements, in their own document: with vpc.mode "create" the ids are only known after the VPC exists,
 * and keeping them apart lets the number of policy documents be fixed at preview time.
 * FC VPC access: VPC functions need the vSwitch/VPC lookups and ENI management.
 */
export function vpcStatements(c: Pick<OssferryStackConfig, 'region' | 'accountId'>, network: NetworkIds): PolicyStatement[] {
  return [
    { Effect: 'Allow', Action: ['vpc:DescribeVpcAttribute'], Resource: [`acs:vpc:${c.region}:${c.accountId}:vpc/${network.vpcId}`] },
    {
      Effect: 'Allow',
      Action: ['vpc:DescribeVSwitchAttributes'],
      Resource: uniq(network.vswitchIds.map((id) => `acs:vpc:${c.region}:${c.accountId}:vswitch/${id}`)),
    },
    {
      Effect: 'Allow',
      Action: uniq([
        'ecs:CreateNetworkInterface',
        'ecs:DeleteNetworkInterface',
        'ecs:DescribeNetworkInterfaces',
        'ecs:CreateNetworkInterfacePermission',
        'ecs:DescribeNetworkInterfacePermissions',
        'ecs:DeleteNetworkInterfacePermission',
      ]),
      Resource: ['*'],
    },
  ];
}

/** The OSS trigger's invocation role may invoke the coordinator and nothing else (fc:InvokeFunction on it). */
export function triggerRoleStatements(c: OssferryStackConfig): PolicyStatement[] {
  return [{ Effect: 'Allow', Action: ['fc:InvokeFunction'], Resource: uniq(fcFunctionArns(c, c.names.service, c.names.coordinatorFunction)) }];
}

/** Trust policy: which service may assume the role. */
export function trustPolicy(service: 'fc.aliyuncs.com' | 'oss.aliyuncs.com'): string {
  return JSON.stringify({ Version: '1', Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: [service] } }] });
}

const docBytes = (statements: PolicyStatement[]) => Buffer.byteLength(JSON.stringify({ Version: '1', Statement: statements }));

/**
 * Packs statements into as few documents as fit MAX_POLICY_BYTES each (many archive rules make long
 * resource lists). A statement too big on its own is split by resources.
 */
export function packPolicyDocuments(statements: PolicyStatement[], maxBytes = MAX_POLICY_BYTES): string[] {
  const pieces: PolicyStatement[] = [];
  const split = (s: PolicyStatement) => {
    if (docBytes([s]) <= maxBytes) return void pieces.push(s);
    if (s.Resource.length < 2) {
      throw new InvalidInputError(
        'ossferry:archiveRules',
        `a single RAM statement for ${s.Action.join(',')} on ${s.Resource[0]} exceeds the ${maxBytes}-byte policy limit`,
        'shorten the bucket prefixes',
      );
    }
    const mid = Math.ceil(s.Resource.length / 2);
    split({ ...s, Resource: s.Resource.slice(0, mid) });
    split({ ...s, Resource: s.Resource.slice(mid) });
  };
  statements.forEach(split);

  const docs: PolicyStatement[][] = [];
  for (const s of pieces) {
    const last = docs.at(-1);
    if (last && docBytes([...last, s]) <= maxBytes) last.push(s);
    else docs.push([s]);
  }
  return docs.map((st) => JSON.stringify({ Version: '1', Statement: st } satisfies PolicyDocument));
}
