/**
 * The Pulumi program under pulumi.runtime.setMocks: every resource and its key properties, derived from config.
 */
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIGEST, baseValues, checkEveryStack, configOf, installMocks, isSecretWire, one, ofType, promiseOf, settle, unwrap } from './harness.ts';
import type { Recorded } from './harness.ts';
import type { OssferryStackConfig } from '../../infra/config-schema.ts';
import type { StackOutputs } from '../../infra/program.ts';
import type { PolicyDocument } from '../../infra/policy.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';

let createStack: (c: OssferryStackConfig) => StackOutputs;
let UNSCOPABLE: Readonly<Record<string, string>>;

beforeAll(async () => {
  await installMocks();
  // Import the program only after the mocks are installed.
  ({ createStack } = await import('../../infra/program.ts'));
  ({ UNSCOPABLE_ACTIONS: UNSCOPABLE } = await import('../../infra/policy.ts'));
});
checkEveryStack();

const T = {
  service: 'alicloud:fc/service:Service',
  fn: 'alicloud:fc/v2Function:V2Function',
  legacyFn: 'alicloud:fc/function:Function',
  async: 'alicloud:fc/functionAsyncInvokeConfig:FunctionAsyncInvokeConfig',
  trigger: 'alicloud:fc/trigger:Trigger',
  role: 'alicloud:ram/role:Role',
  policy: 'alicloud:ram/policy:Policy',
  attach: 'alicloud:ram/rolePolicyAttachment:RolePolicyAttachment',
  project: 'alicloud:log/project:Project',
  store: 'alicloud:log/store:Store',
  index: 'alicloud:log/storeIndex:StoreIndex',
  dashboard: 'alicloud:log/dashboard:Dashboard',
  vpc: 'alicloud:vpc/network:Network',
  vswitch: 'alicloud:vpc/switch:Switch',
  sg: 'alicloud:ecs/securityGroup:SecurityGroup',
  bucket: 'alicloud:oss/bucket:Bucket',
  crNamespace: 'alicloud:cr/namespace:Namespace',
  crRepo: 'alicloud:cr/repo:Repo',
};

const SFTP_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----';

function fullValues(): Record<string, unknown> {
  return {
    ...baseValues(),
    namePrefix: 'ossferry-prod',
    sources: JSON.stringify([{ bucket: 'acme-src', prefix: 'exports/' }]),
    archiveRules: JSON.stringify([
      { name: 'logs', sourceBucket: 'acme-logs', sourcePrefix: 'incoming/', sourceSuffix: '.log', destinationBucket: 'acme-archive', destinationPrefix: 'logs/' },
      { name: 'dumps', sourceBucket: 'acme-logs', sourcePrefix: 'dumps/', destinationBucket: 'acme-archive', destinationPrefix: 'dumps/', deleteSourceAfterVerify: true, gzipLevel: 3 },
    ]),
    createBuckets: JSON.stringify(['acme-archive']),
    abortIncompleteUploadsDays: '2',
    worker: JSON.stringify({ memoryMb: 8192, vcpu: 4, diskMb: 10240, timeoutSeconds: 3600, instanceConcurrency: 2, maxInstances: 40 }),
    coordinator: JSON.stringify({ memoryMb: 1024, vcpu: 0.5, timeoutSeconds: 7200, asyncRetryAttempts: 1 }),
    transfer: JSON.stringify({ partSizeMb: 128, streamsPerWorker: 12, gzipLevel: 2 }),
    logging: JSON.stringify({ retentionDays: 90 }),
    vpc: JSON.stringify({ mode: 'create', zoneId: 'cn-hangzhou-h' }),
    allowedSourceHosts: JSON.stringify(['files.acme.example', '10.0.0.0/8']),
    sftpHostKeys: JSON.stringify({ 'sftp.acme.example:22': `SHA256:${'A'.repeat(43)}` }),
    logLevel: 'debug',
  };
}

async function build(values: Record<string, unknown>, withSecret = false): Promise<{ out: StackOutputs; config: OssferryStackConfig }> {
  const config = configOf(values, withSecret ? { secretKeys: ['sftpPrivateKey'], secrets: { sftpPrivateKey: pulumi.secret(SFTP_KEY) } } : {});
  const out = createStack(config);
  await promiseOf(pulumi.all([out.serviceName, out.coordinatorFunctionArn, out.workerFunctionArn, out.copyCommand, out.archiveTriggerNames]));
  await settle();
  return { out, config };
}

const inputs = (r: Recorded) => unwrap(r.inputs) as Record<string, any>;
const docs = (rs: Recorded[]) => rs.map((r) => JSON.parse(String(inputs(r).policyDocument)) as PolicyDocument);
const statements = (rs: Recorded[]) => docs(rs).flatMap((d) => d.Statement);
const servicePolicies = () => ofType(T.policy).filter((p) => !p.name.includes('trigger'));

describe('full stack (archive rules, created VPC, SFTP secret)', () => {
  it('creates both functions as V2Function custom containers sized from config', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    expect(ofType(T.legacyFn)).toHaveLength(0);
    const worker = inputs(one(T.fn, '-worker'));
    expect(worker).toMatchObject({
      serviceName: 'ossferry-prod',
      functionName: 'ossferry-prod-worker',
      runtime: 'custom-container',
      caPort: 9000,
      memorySize: 8192,
      cpu: 4,
      diskSize: 10240,
      timeout: 3600,
      instanceConcurrency: 2,
      customContainerConfig: {
        image: `registry-vpc.cn-hangzhou.aliyuncs.com/acme/ossferry@${DIGEST}`,
        accelerationType: 'Default',
        webServerMode: true,
      },
    });
    const coordinator = inputs(one(T.fn, '-coordinator'));
    expect(coordinator).toMatchObject({
      functionName: 'ossferry-prod-coordinator',
      caPort: 9000,
      memorySize: 1024,
      cpu: 0.5,
      diskSize: 512,
      timeout: 7200,
      instanceConcurrency: 20,
      customContainerConfig: { accelerationType: 'Default' },
    });
  });

  it('wires the environment variable names from shared/function-env.ts, with the SFTP key only as a secret', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const workerRaw = one(T.fn, '-worker').inputs;
    expect(isSecretWire(workerRaw.environmentVariables)).toBe(true);
    const env = inputs(one(T.fn, '-worker')).environmentVariables as Record<string, string>;
    const shared = {
      [FUNCTION_ENV.ACCOUNT_ID]: '1234567890123456',
      [FUNCTION_ENV.REGION]: 'cn-hangzhou',
      [FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]: 'files.acme.example,10.0.0.0/8',
      [FUNCTION_ENV.SFTP_HOST_KEYS]: JSON.stringify({ 'sftp.acme.example:22': `SHA256:${'A'.repeat(43)}` }),
      [FUNCTION_ENV.SFTP_PRIVATE_KEY]: SFTP_KEY,
      [FUNCTION_ENV.LOG_LEVEL]: 'debug',
    };
    // The worker gets only what its code reads (test/infra/env-readers.test.ts).
    expect(env).toEqual({ [FUNCTION_ENV.ROLE]: 'worker', ...shared });
    const coordEnv = inputs(one(T.fn, '-coordinator')).environmentVariables as Record<string, string>;
    expect(coordEnv).toMatchObject({
      ...shared,
      [FUNCTION_ENV.ROLE]: 'coordinator',
      [FUNCTION_ENV.SERVICE_NAME]: 'ossferry-prod',
      [FUNCTION_ENV.WORKER_FUNCTION]: 'ossferry-prod-worker',
      [FUNCTION_ENV.STATUS_LOCATION]: 'oss://acme-status/ossferry/status/',
      [FUNCTION_ENV.PART_SIZE_BYTES]: String(128 * 1024 * 1024),
      [FUNCTION_ENV.STREAMS_PER_WORKER]: '12',
      [FUNCTION_ENV.MAX_WORKERS]: '40',
      [FUNCTION_ENV.GZIP_LEVEL]: '2',
      [FUNCTION_ENV.WORKER_TIMEOUT_SECONDS]: '3600',
    });
    expect(JSON.parse(coordEnv[FUNCTION_ENV.ARCHIVE_RULES]!).map((r: { name: string }) => r.name)).toEqual(['logs', 'dumps']);
    const allNames = new Set<string>(Object.values(FUNCTION_ENV));
    for (const k of [...Object.keys(env), ...Object.keys(coordEnv)]) {
      expect(allNames).toContain(k);
      // FC reserves FC_* (infra/env.ts): FC_SERVER_PORT is left to the runtime's default, which equals caPort.
      expect(k).not.toMatch(/^FC_/);
      expect(k).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
    }
    expect(env[FUNCTION_ENV.PORT]).toBeUndefined();
  });

  it('configures the service with the role, the created VPC and the log config', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const svc = inputs(one(T.service, 'transfer-service'));
    expect(svc).toMatchObject({
      name: 'ossferry-prod',
      role: 'acs:ram::1234567890123456:role/ossferry-prod-fc-service',
      internetAccess: true,
      logConfig: { project: 'ossferry-prod-logs-1234567890123456', logstore: 'ossferry', enableRequestMetrics: true, enableInstanceMetrics: true },
      vpcConfig: { vswitchIds: ['vsw-mock1'], securityGroupId: 'network-sg-id' },
    });
    // The provider derives vpc_id from the first vSwitch; it is Computed-only and must not be sent.
    expect(svc.vpcConfig).not.toHaveProperty('vpcId');
    expect(inputs(one(T.vswitch, 'network-vswitch'))).toMatchObject({ zoneId: 'cn-hangzhou-h', cidrBlock: '172.16.0.0/24', vpcId: 'vpc-mock1' });
    expect(inputs(one(T.vpc, 'network-vpc'))).toMatchObject({ cidrBlock: '172.16.0.0/16', vpcName: 'ossferry-prod' });
    expect(inputs(one(T.sg, 'network-sg'))).toMatchObject({ vpcId: 'vpc-mock1' });
  });

  it('bounds the coordinator async retries', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    expect(inputs(one(T.async, 'coordinator-async'))).toMatchObject({
      serviceName: 'ossferry-prod',
      functionName: 'ossferry-prod-coordinator',
      maximumRetryAttempts: 1,
      maximumEventAgeInSeconds: 86400,
    });
  });

  it('creates one OSS trigger per rule on the coordinator, limited to completion events and the rule filters', async () => {
    // Prepare
    const values = fullValues();
    // Act
    const { out } = await build(values, true);
    // Assess
    const triggers = ofType(T.trigger).map(inputs).filter((t) => t.type === 'oss');
    expect(triggers).toHaveLength(2);
    for (const t of triggers) {
      expect(t).toMatchObject({
        service: 'ossferry-prod',
        function: 'ossferry-prod-coordinator',
        type: 'oss',
        role: 'acs:ram::1234567890123456:role/ossferry-prod-oss-trigger',
        sourceArn: 'acs:oss:cn-hangzhou:1234567890123456:acme-logs',
      });
      const cfg = JSON.parse(t.config);
      expect(cfg.events).toEqual([
        'oss:ObjectCreated:PutObject',
        'oss:ObjectCreated:PostObject',
        'oss:ObjectCreated:CopyObject',
        'oss:ObjectCreated:CompleteMultipartUpload',
      ]);
      expect(cfg.events.join()).not.toMatch(/UploadPart|InitiateMultipartUpload|\*/);
    }
    const filters = triggers.map((t) => JSON.parse(t.config).filter.key);
    expect(filters).toEqual([
      { prefix: 'incoming/', suffix: '.log' },
      { prefix: 'dumps/', suffix: '' },
    ]);
    expect(await promiseOf(out.archiveTriggerNames)).toEqual(['ossferry-prod-logs', 'ossferry-prod-dumps']);
  });

  it('runs the orphaned-upload sweep on a timer trigger whose payload the coordinator reads as a sweep of every destination', async () => {
    // Prepare
    const values = { ...fullValues(), destinations: JSON.stringify([{ bucket: 'acme-dst', prefix: 'copies/' }]), sweep: JSON.stringify({ schedule: '@every 6h', olderThan: '48h' }) };
    const { parseCoordinatorEvent } = await import('../../functions/coordinator/event.ts');
    // Act
    await build(values, true);
    // Assess
    const timers = ofType(T.trigger).map(inputs).filter((t) => t.type === 'timer');
    expect(timers).toHaveLength(1);
    expect(timers[0]).toMatchObject({ service: 'ossferry-prod', function: 'ossferry-prod-coordinator', name: 'ossferry-prod-sweep' });
    expect(timers[0]!.role).toBeUndefined();
    expect(timers[0]!.sourceArn).toBeUndefined();
    const cfg = JSON.parse(timers[0]!.config);
    expect(Object.keys(cfg).sort()).toEqual(['cronExpression', 'enable', 'payload']);
    expect(cfg).toMatchObject({ cronExpression: '@every 6h', enable: true });
    const delivered = JSON.stringify({ triggerTime: '2026-12-07T03:00:00Z', triggerName: 'ossferry-prod-sweep', payload: cfg.payload });
    expect(parseCoordinatorEvent(delivered, {})).toEqual({
      kind: 'sweep',
      olderThanSeconds: 48 * 3600,
      destinations: [
        { bucket: 'acme-dst', prefix: 'copies/' },
        { bucket: 'acme-archive', prefix: 'logs/' },
        { bucket: 'acme-archive', prefix: 'dumps/' },
      ],
    });
  });

  it('trusts fc.aliyuncs.com for the service role and oss.aliyuncs.com for the trigger role', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const trust = (r: Recorded) => JSON.parse(String(inputs(r).assumeRolePolicyDocument)).Statement[0].Principal.Service;
    expect(trust(one(T.role, 'roles-service'))).toEqual(['fc.aliyuncs.com']);
    expect(trust(one(T.role, 'roles-trigger'))).toEqual(['oss.aliyuncs.com']);
    expect(inputs(one(T.role, 'roles-service')).roleName).toBe('ossferry-prod-fc-service');
    const attachments = ofType(T.attach).map(inputs);
    expect(attachments.every((a) => a.policyType === 'Custom')).toBe(true);
    expect(attachments.length).toBe(ofType(T.policy).length);
  });

  it('grants no RAM action on Resource "*" except the listed unscopable ones', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const all = statements(ofType(T.policy));
    const onStar = all.filter((s) => s.Resource.includes('*'));
    expect(onStar.length).toBeGreaterThan(0);
    for (const s of onStar) {
      expect(s.Resource).toEqual(['*']);
      for (const a of s.Action) expect(Object.keys(UNSCOPABLE)).toContain(a);
    }
    for (const s of all) for (const a of s.Action) expect(a).not.toMatch(/\*/);
    for (const d of docs(ofType(T.policy))) expect(JSON.stringify(d).length).toBeLessThanOrEqual(6144);
  });

  it('scopes OSS access to the configured buckets and prefixes, deleting only where a rule asks', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const all = statements(servicePolicies());
    const resourcesFor = (action: string) => all.filter((s) => s.Action.includes(action)).flatMap((s) => s.Resource).sort();
    expect(resourcesFor('oss:DeleteObject')).toEqual([
      'acs:oss:*:*:acme-archive/dumps/*.gz',
      'acs:oss:*:*:acme-archive/logs/*.gz',
      'acs:oss:*:*:acme-dst/copies/*',
      'acs:oss:*:*:acme-logs/dumps/*',
    ]);
    expect(resourcesFor('oss:PutObject')).toEqual([
      'acs:oss:*:*:acme-archive/dumps/*.gz',
      'acs:oss:*:*:acme-archive/logs/*.gz',
      'acs:oss:*:*:acme-dst/copies/*',
      'acs:oss:*:*:acme-status/ossferry/status/*',
    ]);
    expect(resourcesFor('oss:ListParts')).toEqual(resourcesFor('oss:AbortMultipartUpload'));
    expect(resourcesFor('oss:ListMultipartUploads')).toEqual(['acs:oss:*:*:acme-archive', 'acs:oss:*:*:acme-dst']);
    expect(resourcesFor('oss:GetObject')).toContain('acs:oss:*:*:acme-src/exports/*');
    expect(resourcesFor('oss:GetObject')).toContain('acs:oss:*:*:acme-logs/incoming/*.log');
    expect(resourcesFor('fc:InvokeFunction')).toEqual([
      'acs:fc:cn-hangzhou:1234567890123456:services/ossferry-prod.*/functions/ossferry-prod-worker',
      'acs:fc:cn-hangzhou:1234567890123456:services/ossferry-prod/functions/ossferry-prod-worker',
    ]);
    expect(resourcesFor('log:PostLogStoreLogs')).toEqual([
      'acs:log:cn-hangzhou:1234567890123456:project/ossferry-prod-logs-1234567890123456/logstore/ossferry',
    ]);
    expect(resourcesFor('vpc:DescribeVSwitchAttributes')).toEqual(['acs:vpc:cn-hangzhou:1234567890123456:vswitch/vsw-mock1']);
    const triggerStatements = statements(ofType(T.policy).filter((p) => p.name.includes('trigger')));
    expect(triggerStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['fc:InvokeFunction'],
        Resource: [
          'acs:fc:cn-hangzhou:1234567890123456:services/ossferry-prod.*/functions/ossferry-prod-coordinator',
          'acs:fc:cn-hangzhou:1234567890123456:services/ossferry-prod/functions/ossferry-prod-coordinator',
        ],
      },
    ]);
  });

  it('puts the abort-incomplete-uploads lifecycle rule only on buckets the stack creates', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    const buckets = ofType(T.bucket).map(inputs);
    expect(buckets.map((b) => b.bucket)).toEqual(['acme-archive']);
    expect(buckets[0]!.lifecycleRules).toEqual([
      { id: 'ossferry-abort-incomplete-multipart-uploads', enabled: true, prefix: '', abortMultipartUploads: [{ days: 2 }] },
    ]);
  });

  it('creates the SLS project, a logstore with the configured retention, a JSON index and a dashboard', async () => {
    // Prepare
    const values = fullValues();
    // Act
    await build(values, true);
    // Assess
    expect(inputs(one(T.project, 'logging-project')).projectName).toBe('ossferry-prod-logs-1234567890123456');
    expect(inputs(one(T.store, 'logging-store'))).toMatchObject({ logstoreName: 'ossferry', retentionPeriod: 90, shardCount: 2 });
    const idx = inputs(one(T.index, 'logging-index'));
    const message = (idx.fieldSearches as any[]).find((f) => f.name === 'message');
    expect(message.type).toBe('json');
    expect(message.jsonKeys.map((k: { name: string }) => k.name)).toEqual(expect.arrayContaining(['level', 'jobId', 'bytes', 'msg']));
    const charts = JSON.parse(inputs(one(T.dashboard, 'logging-dashboard')).charList);
    expect(charts.map((c: { title: string }) => c.title)).toEqual(['Throughput (MB/s)', 'Errors per minute']);
    expect(charts.every((c: { search: { logstore: string } }) => c.search.logstore === 'ossferry')).toBe(true);
  });

  it('exposes the CLI flags, names and ARNs as outputs, and no output carries the secret', async () => {
    // Prepare
    const values = fullValues();
    // Act
    const { out } = await build(values, true);
    // Assess
    expect(await promiseOf(out.copyFlags)).toBe(
      '--fc-account-id 1234567890123456 --fc-region cn-hangzhou --fc-service ossferry-prod --fc-function ossferry-prod-coordinator',
    );
    expect(await promiseOf(out.copyCommand)).toBe(
      'ALIBABA_CLOUD_ACCESS_KEY_ID=<…> ALIBABA_CLOUD_ACCESS_KEY_SECRET=<…> ossferry copy --fc-account-id 1234567890123456 --fc-region cn-hangzhou --fc-service ossferry-prod --fc-function ossferry-prod-coordinator <source-url> oss://acme-dst/copies/',
    );
    expect(await promiseOf(out.workerFunctionArn)).toBe('acs:fc:cn-hangzhou:1234567890123456:services/ossferry-prod.LATEST/functions/ossferry-prod-worker');
    expect(await promiseOf(out.logStore)).toBe('ossferry');
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(out)) {
      if (pulumi.Output.isInstance(v)) {
        expect(await pulumi.isSecret(v), k).toBe(false);
        resolved[k] = await promiseOf(v);
      } else resolved[k] = v;
    }
    expect(JSON.stringify(resolved)).not.toContain('OPENSSH');
    expect(resolved.copyCredentialEnv).toEqual(['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET']);
  });
});

describe('minimal stack (no VPC, no rules)', () => {
  it('creates no OSS trigger, trigger role, VPC, bucket or ECS grant (only the sweep timer)', async () => {
    // Prepare
    const values = baseValues();
    // Act
    const { out } = await build(values);
    // Assess
    expect(ofType(T.trigger).map(inputs).map((t) => t.type)).toEqual(['timer']);
    const sweep = JSON.parse(inputs(ofType(T.trigger)[0]!).config);
    expect(sweep).toMatchObject({ cronExpression: '0 0 3 * * *', enable: true });
    expect(JSON.parse(sweep.payload)).toMatchObject({ kind: 'sweep', olderThanSeconds: 86_400 });
    expect(ofType(T.role)).toHaveLength(1);
    expect(ofType(T.vpc)).toHaveLength(0);
    expect(ofType(T.bucket)).toHaveLength(0);
    expect(ofType(T.crRepo)).toHaveLength(0);
    expect(inputs(one(T.service, 'transfer-service')).vpcConfig).toBeUndefined();
    const actions = statements(ofType(T.policy)).flatMap((s) => s.Action);
    expect(actions.filter((a) => a.startsWith('ecs:') || a.startsWith('vpc:'))).toEqual([]);
    expect(out.triggerRoleArn).toBeUndefined();
    expect(await promiseOf(out.archiveTriggerNames)).toEqual([]);
    const worker = inputs(one(T.fn, '-worker'));
    expect(worker).toMatchObject({ memorySize: 4096, cpu: 2, diskSize: 512, timeout: 1800, instanceConcurrency: 1, caPort: 9000 });
    expect(worker.environmentVariables[FUNCTION_ENV.SFTP_PRIVATE_KEY]).toBeUndefined();
    expect(isSecretWire(one(T.fn, '-worker').inputs.environmentVariables)).toBe(false);
  });
});

describe('existing VPC and ACR repository created by the stack', () => {
  it('uses the given ids without creating network resources, scoping VPC grants to them', async () => {
    // Prepare
    const values = {
      ...baseValues(),
      vpc: JSON.stringify({ mode: 'existing', vpcId: 'vpc-abc123', vswitchIds: ['vsw-one', 'vsw-two'], securityGroupId: 'sg-xyz' }),
      image: JSON.stringify({ namespace: 'acme', repo: 'ossferry', tag: 'v1.2.3', createRepository: true }),
    };
    // Act
    const { out } = await build(values);
    // Assess
    expect(ofType(T.vpc)).toHaveLength(0);
    expect(ofType(T.vswitch)).toHaveLength(0);
    expect(inputs(one(T.service, 'transfer-service')).vpcConfig).toEqual({
      vswitchIds: ['vsw-one', 'vsw-two'],
      securityGroupId: 'sg-xyz',
    });
    const vpcDoc = statements([one(T.policy, 'roles-vpc')]);
    expect(vpcDoc.find((s) => s.Action.includes('vpc:DescribeVpcAttribute'))!.Resource).toEqual(['acs:vpc:cn-hangzhou:1234567890123456:vpc/vpc-abc123']);
    expect(vpcDoc.find((s) => s.Action.includes('vpc:DescribeVSwitchAttributes'))!.Resource).toEqual([
      'acs:vpc:cn-hangzhou:1234567890123456:vswitch/vsw-one',
      'acs:vpc:cn-hangzhou:1234567890123456:vswitch/vsw-two',
    ]);
    expect(inputs(one(T.crNamespace, 'image-namespace'))).toMatchObject({ name: 'acme', autoCreate: false, defaultVisibility: 'PRIVATE' });
    expect(inputs(one(T.crRepo, 'image-repo'))).toMatchObject({ name: 'ossferry', namespace: 'acme', repoType: 'PRIVATE' });
    expect(await promiseOf(out.imageReference)).toBe('registry-vpc.cn-hangzhou.aliyuncs.com/acme/ossferry:v1.2.3');
    expect(await promiseOf(out.vpcId!)).toBe('vpc-abc123');
  });
});
