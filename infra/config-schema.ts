/**
 * Stack config: schema, defaults and derived checks. Pure (no Pulumi runtime, no I/O), so every rule is
 * unit- and property-tested without mocks (test/infra/config-schema.test.ts). infra/config.ts is the only
 * reader of pulumi.Config; it hands the raw values here and freezes the result.
 *
 * Every refusal is an InvalidInputError whose field is the exact config key (`ossferry:worker.memoryMb`)
 * and whose fix is a `pulumi config set` command, so a bad value fails `pulumi preview` with a message an
 * operator can act on.
 */
import type * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { parseArchiveRules, DEFAULT_GZIP_LEVEL } from '../shared/archive-rules.ts';
import type { ArchiveRule, GzipLevel } from '../shared/archive-rules.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { parseObjectDefaults, type ObjectDefaults } from '../shared/object-options.ts';
import { FC, OSS, UNITS } from '../shared/limits.ts';
import { endpointSyntax } from '../shared/oss-endpoint.ts';
import { AUTO_WORKERS, PLAN_DEFAULTS } from '../shared/plan.ts';
import { MAX_ENV_BYTES, envBytes, functionEnvironment } from './env.ts';
import { parseAllowList } from '../shared/ssrf.ts';
import { parseDurationSeconds } from '../shared/sweep.ts';

export const NAMESPACE = 'ossferry';

/**
 * Share of worker memory that in-flight part buffers may use: the rest is Node, TLS, gzip state and
 * headroom ("streamsPerWorker × partSize ≤ 0.6 × memory", the budget docs/deploy.md explains).
 */
export const PART_BUFFER_MEMORY_FRACTION = 0.6;

/** FC limits: temporary disk is 512 MB or 10 GB, nothing else. */
export const DISK_SIZES_MB = Object.freeze([512, 10_240] as const);

export interface BucketPrefix {
  readonly bucket: string;
  readonly prefix: string;
}

export interface FunctionSizing {
  readonly memoryMb: number;
  readonly vcpu: number;
  readonly diskMb: 512 | 10240;
  readonly timeoutSeconds: number;
  readonly instanceConcurrency: number;
}

export interface CoordinatorConfig extends FunctionSizing {
  /** FC async retries on function error (OSS-trigger and async invocations), 0..8 (FunctionAsyncInvokeConfig.maximumRetryAttempts, FC default 2). */
  readonly asyncRetryAttempts: number;
  /** Drop queued async events older than this, 1..2592000 s. */
  readonly asyncMaxEventAgeSeconds: number;
}

export interface WorkerConfig extends FunctionSizing {
  /** Upper bound on parallel worker invocations per job (the coordinator's fan-out, OSSFERRY_MAX_WORKERS). */
  readonly maxInstances: number;
}

export type VpcConfig =
  | { readonly mode: 'none' }
  | { readonly mode: 'create'; readonly zoneId: string; readonly cidrBlock: string; readonly vswitchCidrBlock: string }
  | { readonly mode: 'existing'; readonly vpcId: string; readonly vswitchIds: readonly string[]; readonly securityGroupId: string };

export interface ImageConfig {
  readonly registry: string;
  readonly namespace: string;
  readonly repo: string;
  readonly tag?: string;
  readonly digest?: string;
  /** Create the ACR (personal edition) namespace and repository in this stack. */
  readonly createRepository: boolean;
  /** registry/namespace/repo@digest or registry/namespace/repo:tag. */
  readonly reference: string;
}

export interface LoggingConfig {
  readonly project: string;
  readonly logstore: string;
  readonly retentionDays: number;
  readonly shardCount: number;
  readonly dashboard: boolean;
}

export interface TransferConfig {
  /** Absent: "auto" (shared/plan.ts choosePartSize sizes each job's parts for its workers and streams). */
  readonly partSizeBytes?: number;
  readonly streamsPerWorker: number;
  readonly gzipLevel: GzipLevel;
}

/** Names of everything the stack creates, derived once so roles can be scoped before resources exist. */
export interface StackNames {
  readonly service: string;
  readonly coordinatorFunction: string;
  readonly workerFunction: string;
  readonly serviceRole: string;
  readonly triggerRole: string;
  readonly policyPrefix: string;
  /** MNS queue receiving coordinator async events whose retries ran out (the onFailure destination). */
  readonly asyncFailureQueue: string;
}

/** The orphaned-upload sweep the coordinator runs on a timer trigger (infra/sweep-timer.ts). */
export interface SweepConfig {
  readonly enabled: boolean;
  /** FC 2.0 timer cronExpression (UTC): six fields "sec min hour day month weekday", or "@every <n>m|h". */
  readonly schedule: string;
  /** Uploads initiated less than this long ago are kept. */
  readonly olderThanSeconds: number;
}

export interface AlarmsConfig {
  /** CloudMonitor contact groups notified on function errors and throttles; none → no alarms (a warning). */
  readonly contactGroups: readonly string[];
}

/** The validated, defaulted stack config every ComponentResource takes. */
export interface OssferryStackConfig {
  readonly project: string;
  readonly stack: string;
  readonly region: string;
  readonly accountId: string;
  readonly namePrefix: string;
  readonly names: StackNames;
  readonly statusBucket: string;
  readonly statusPrefix: string;
  readonly sources: readonly BucketPrefix[];
  readonly destinations: readonly BucketPrefix[];
  readonly archiveRules: readonly ArchiveRule[];
  readonly createBuckets: readonly string[];
  readonly abortIncompleteUploadsDays: number;
  readonly sweep: SweepConfig;
  readonly coordinator: CoordinatorConfig;
  readonly worker: WorkerConfig;
  readonly transfer: TransferConfig;
  /** Destination object defaults for every job (storage class, encryption, tags, ACL); a job's own options win. */
  readonly object: ObjectDefaults;
  readonly logging: LoggingConfig;
  readonly alarms: AlarmsConfig;
  /** The account's on-demand instance quota in this region (FC default 100); worker.maxInstances must fit. */
  readonly instanceQuota: number;
  readonly vpc: VpcConfig;
  readonly image: ImageConfig;
  readonly internetAccess: boolean;
  readonly allowedSourceHosts: readonly string[];
  /** Endpoints (`host` or `host:port`) besides OSS's own that a job may name as an oss:// source endpoint: they get the functions' credentials. */
  readonly allowedOssEndpoints: readonly string[];
  readonly sftpHostKeys: Readonly<Record<string, string>>;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Set with `pulumi config set --secret sftpPrivateKey`; required when sftpHostKeys is non-empty. */
  readonly secrets: { readonly sftpPrivateKey?: pulumi.Output<string> };
  /** Non-fatal advice, logged by infra/config.ts with pulumi.log.warn. */
  readonly warnings: readonly string[];
}

/** What infra/config.ts collects from pulumi.Config before validation. */
export interface RawStackConfig {
  project: string;
  stack: string;
  /** `alicloud:region`, which the provider needs anyway: one source of truth. */
  region: string | undefined;
  /** `alicloud:accountId`, which FC 2.0 resources require (trigger ARNs, role policies). */
  accountId: string | undefined;
  /** `ossferry:*` keys without the namespace; strings as Pulumi stores them, or already-parsed values. */
  values: Record<string, unknown>;
  /** Keys set with --secret (their values are never in `values`). */
  secretKeys: readonly string[];
  secrets?: { sftpPrivateKey?: pulumi.Output<string> };
}

// ---------------------------------------------------------------------------------------------------------
// Documented defaults (docs/deploy.md lists them; keep the two in step).

export const DEFAULTS = Object.freeze({
  statusPrefix: 'ossferry/status/',
  abortIncompleteUploadsDays: 3,
  /** Daily at 03:00 UTC, aborting uploads whose job is finished or unknown and older than a day. */
  sweep: Object.freeze({ enabled: true, schedule: '0 0 3 * * *', olderThan: '24h' }),
  coordinator: Object.freeze({
    memoryMb: 512,
    vcpu: 0.25,
    diskMb: 512,
    timeoutSeconds: 3600,
    instanceConcurrency: 20,
    asyncRetryAttempts: 2,
    asyncMaxEventAgeSeconds: 86_400,
  }),
  worker: Object.freeze({
    memoryMb: 4096,
    vcpu: 2,
    diskMb: 512,
    timeoutSeconds: 1800,
    instanceConcurrency: 1,
    /** FC's default instance quota less the coordinator's one: jobs with workers "auto" fan out up to it. */
    maxInstances: AUTO_WORKERS.cap,
  }),
  /** Part size "auto" like the job default: a fixed 64 MiB would cap a 14.68 GB job at 219 parts, 27 workers of 8 streams. */
  transfer: Object.freeze({ partSizeMb: 'auto' as 'auto' | number, streamsPerWorker: PLAN_DEFAULTS.streamsPerWorker, gzipLevel: DEFAULT_GZIP_LEVEL }),
  logging: Object.freeze({ logstore: 'ossferry', retentionDays: 30, shardCount: 2, dashboard: true }),
  /** FC's default cap on on-demand instances per region and account (raised by a quota request). */
  instanceQuota: FC.DEFAULT_INSTANCE_QUOTA,
  vpc: Object.freeze({ mode: 'none', cidrBlock: '172.16.0.0/16', vswitchCidrBlock: '172.16.0.0/24' }),
  image: Object.freeze({ createRepository: false }),
  internetAccess: true,
  logLevel: 'info',
});

// ---------------------------------------------------------------------------------------------------------
// Schema. Scalars may arrive as strings (`pulumi config set worker.memoryMb 4096` stores "4096" at the top
// level), so numbers and booleans accept their string forms.

const num = () =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v),
    z.number({ error: 'must be a number' }).finite({ error: 'must be a finite number' }),
  );
const int = () =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v),
    z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }),
  );
const bool = () =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: 'must be true or false' }));
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v; // the inner schema reports the type error
    }
  }, schema);

const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const bucketName = () => z.string({ error: 'must be a string' }).regex(BUCKET_RE, { error: 'must be an OSS bucket name (3-63 lowercase letters, digits or "-")' });
const keyPrefix = () =>
  z
    .string({ error: 'must be a string' })
    .max(1023, { error: 'must be at most 1023 bytes (OSS key limit)' })
    .refine((s) => !s.startsWith('/'), { error: 'must not start with "/" (OSS keys have no leading slash)' });

const bucketPrefix = z.strictObject({ bucket: bucketName(), prefix: keyPrefix().default('') });

const sizing = {
  memoryMb: int(),
  vcpu: num(),
  diskMb: int(),
  timeoutSeconds: int(),
  instanceConcurrency: int(),
};

/** A cron field: digits, names and the operators FC's timer cron accepts (* , - / ?). */
const CRON_FIELD_RE = /^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?)*$/;

/** Why `s` is not an FC timer cronExpression, or undefined (pure; property-tested). */
export function scheduleProblem(s: string): string | undefined {
  const every = /^@every ([0-9]+)([mh])$/.exec(s);
  if (every) return Number(every[1]) >= 1 ? undefined : 'must run at least every 1m';
  if (s.startsWith('@')) return 'must be "@every <n>m" or "@every <n>h" (e.g. @every 6h)';
  const fields = s.trim().split(/\s+/);
  if (fields.length !== 6) return `has ${fields.length} fields; an FC timer cron has six: second minute hour day-of-month month day-of-week (UTC), e.g. "0 0 3 * * *"`;
  const bad = fields.find((f) => !CRON_FIELD_RE.test(f));
  return bad === undefined ? undefined : `field "${bad}" is not a cron field (digits, names, * , - / ?)`;
}

const sweepSchema = z.strictObject({
  enabled: bool().default(DEFAULTS.sweep.enabled),
  schedule: z
    .string({ error: 'must be a string' })
    .superRefine((s, ctx) => {
      const problem = scheduleProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default(DEFAULTS.sweep.schedule),
  olderThan: z
    .string({ error: 'must be a duration such as 24h' })
    .superRefine((s, ctx) => {
      const r = parseDurationSeconds(s);
      if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: `${r}; use e.g. 24h, 90m or 7d` });
      else if (r < 3600) ctx.addIssue({ code: 'custom', message: 'must be at least 1h: a shorter grace period could abort an upload a job is about to record' });
    })
    .default(DEFAULTS.sweep.olderThan),
});

const coordinatorSchema = z.strictObject({
  memoryMb: sizing.memoryMb.default(DEFAULTS.coordinator.memoryMb),
  vcpu: sizing.vcpu.default(DEFAULTS.coordinator.vcpu),
  diskMb: sizing.diskMb.default(DEFAULTS.coordinator.diskMb),
  timeoutSeconds: sizing.timeoutSeconds.default(DEFAULTS.coordinator.timeoutSeconds),
  instanceConcurrency: sizing.instanceConcurrency.default(DEFAULTS.coordinator.instanceConcurrency),
  asyncRetryAttempts: int()
    .refine((n) => n >= 0 && n <= 8, { error: 'must be between 0 and 8 (FC async retry limit)' })
    .default(DEFAULTS.coordinator.asyncRetryAttempts),
  asyncMaxEventAgeSeconds: int()
    .refine((n) => n >= 1 && n <= 2_592_000, { error: 'must be between 1 and 2592000 seconds' })
    .default(DEFAULTS.coordinator.asyncMaxEventAgeSeconds),
});

const workerSchema = z.strictObject({
  memoryMb: sizing.memoryMb.default(DEFAULTS.worker.memoryMb),
  vcpu: sizing.vcpu.default(DEFAULTS.worker.vcpu),
  diskMb: sizing.diskMb.default(DEFAULTS.worker.diskMb),
  timeoutSeconds: sizing.timeoutSeconds.default(DEFAULTS.worker.timeoutSeconds),
  instanceConcurrency: sizing.instanceConcurrency.default(DEFAULTS.worker.instanceConcurrency),
  maxInstances: int()
    .refine((n) => n >= 1 && n <= 300, { error: 'must be between 1 and 300 (the most a job fans out to)' })
    .default(DEFAULTS.worker.maxInstances),
});

const transferSchema = z.strictObject({
  partSizeMb: z.union([z.literal('auto'), int()], { error: 'must be "auto" or a whole number of MB' }).default(DEFAULTS.transfer.partSizeMb),
  streamsPerWorker: int()
    .refine((n) => n >= 1 && n <= 64, { error: 'must be between 1 and 64' })
    .default(DEFAULTS.transfer.streamsPerWorker),
  gzipLevel: int()
    .refine((n) => n >= 0 && n <= 3, { error: 'must be 0, 1, 2 or 3 (the levels archive rules accept)' })
    .default(DEFAULTS.transfer.gzipLevel),
});

const LOG_PROJECT_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const loggingSchema = z.strictObject({
  project: z
    .string({ error: 'must be a string' })
    .regex(LOG_PROJECT_RE, { error: 'must be an SLS project name: 3-63 lowercase letters, digits or "-" (globally unique)' })
    .optional(),
  logstore: z
    .string({ error: 'must be a string' })
    .regex(/^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/, { error: 'must be 3-63 lowercase letters, digits, "_" or "-"' })
    .default(DEFAULTS.logging.logstore),
  retentionDays: int()
    .refine((n) => n >= 1 && n <= 3650, { error: 'must be between 1 and 3650 days (3650 = permanent)' })
    .default(DEFAULTS.logging.retentionDays),
  shardCount: int()
    .refine((n) => n >= 1 && n <= 256, { error: 'must be between 1 and 256' })
    .default(DEFAULTS.logging.shardCount),
  dashboard: bool().default(DEFAULTS.logging.dashboard),
});

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const cidr = () =>
  z.string({ error: 'must be a string' }).refine(
    (s) => {
      const m = CIDR_RE.exec(s);
      return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) >= 8 && Number(m[5]) <= 29;
    },
    { error: 'must be an IPv4 CIDR block such as 172.16.0.0/16 (mask 8-29)' },
  );

const vpcSchema = z.strictObject({
  mode: z.enum(['none', 'create', 'existing'], { error: 'must be "none", "create" or "existing"' }).default('none'),
  zoneId: z.string({ error: 'must be a string' }).min(1).optional(),
  cidrBlock: cidr().default(DEFAULTS.vpc.cidrBlock),
  vswitchCidrBlock: cidr().default(DEFAULTS.vpc.vswitchCidrBlock),
  vpcId: z.string({ error: 'must be a string' }).regex(/^vpc-[a-z0-9]+$/, { error: 'must be a VPC id such as vpc-bp1...' }).optional(),
  vswitchIds: z
    .array(z.string().regex(/^vsw-[a-z0-9]+$/, { error: 'must be a vSwitch id such as vsw-bp1...' }), { error: 'must be a list of vSwitch ids' })
    .optional(),
  securityGroupId: z.string({ error: 'must be a string' }).regex(/^sg-[a-z0-9]+$/, { error: 'must be a security group id such as sg-bp1...' }).optional(),
});

const imageSchema = z.strictObject({
  registry: z
    .string({ error: 'must be a string' })
    .regex(/^[a-z0-9.-]+(:\d+)?$/, { error: 'must be a registry host such as registry-vpc.cn-hangzhou.aliyuncs.com' })
    .optional(),
  namespace: z.string({ error: 'is required' }).regex(/^[a-z0-9][a-z0-9_-]{1,29}$/, { error: 'must be an ACR namespace: 2-30 lowercase letters, digits, "_" or "-"' }),
  // alicloud_cr_repo.name: StringLenBetween(2, 30) in the provider.
  repo: z.string({ error: 'is required' }).regex(/^[a-z0-9][a-z0-9._-]{1,29}$/, { error: 'must be an ACR repository name: 2-30 lowercase letters, digits, ".", "_" or "-"' }),
  tag: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: 'must be a Docker tag' }).optional(),
  digest: z.string({ error: 'must be a string' }).regex(/^sha256:[a-f0-9]{64}$/, { error: 'must be sha256:<64 hex digits>' }).optional(),
  createRepository: bool().default(DEFAULTS.image.createRepository),
});

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
const HOST_PORT_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

const NAME_PREFIX_RE = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;

const topSchema = z.strictObject({
  namePrefix: z
    .string({ error: 'must be a string' })
    .regex(NAME_PREFIX_RE, { error: 'must be 3-40 lowercase letters, digits or "-", starting with a letter (it prefixes FC, RAM and SLS names)' })
    .optional(),
  statusBucket: bucketName(),
  statusPrefix: keyPrefix()
    .refine((s) => s === '' || s.endsWith('/'), { error: 'must end with "/"' })
    .default(DEFAULTS.statusPrefix),
  sources: json(z.array(bucketPrefix, { error: 'must be a JSON list of {"bucket","prefix"}' })).default([]),
  destinations: json(z.array(bucketPrefix, { error: 'must be a JSON list of {"bucket","prefix"}' })).default([]),
  archiveRules: json(z.unknown()).default([]),
  createBuckets: json(z.array(bucketName(), { error: 'must be a JSON list of bucket names' })).default([]),
  abortIncompleteUploadsDays: int()
    .refine((n) => n >= 1 && n <= 365, { error: 'must be between 1 and 365 days' })
    .default(DEFAULTS.abortIncompleteUploadsDays),
  sweep: json(sweepSchema).prefault({}),
  coordinator: json(coordinatorSchema).prefault({}),
  worker: json(workerSchema).prefault({}),
  transfer: json(transferSchema).prefault({}),
  // Checked by the job-side schema (shared/job-defaults.ts) below, so stack and job accept the same values.
  object: json(z.unknown()).default({}),
  logging: json(loggingSchema).prefault({}),
  alarms: json(
    z.strictObject({
      contactGroups: z.array(z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }), { error: 'must be a list of CloudMonitor contact group names' }).default([]),
    }),
  ).prefault({}),
  instanceQuota: int()
    .refine((n) => n >= 1 && n <= 100_000, { error: 'must be a whole number of instances ≥ 1' })
    .default(DEFAULTS.instanceQuota),
  vpc: json(vpcSchema).prefault({}),
  image: json(imageSchema),
  internetAccess: bool().default(DEFAULTS.internetAccess),
  allowedSourceHosts: json(z.array(z.string({ error: 'must be a string' }), { error: 'must be a JSON list of hosts or CIDRs' })).default([]),
  allowedOssEndpoints: json(z.array(z.string({ error: 'must be a string' }), { error: 'must be a JSON list of host or host:port entries' })).default([]),
  sftpHostKeys: json(
    z.record(
      z.string().regex(HOST_PORT_RE, { error: 'keys must be host or host:port' }),
      z.string({ error: 'must be a string' }).regex(FINGERPRINT_RE, { error: 'must be an OpenSSH SHA256 fingerprint such as SHA256:AbC…(43 base64 chars)' }),
      { error: 'must be a JSON object {"host[:port]": "SHA256:…"}' },
    ),
  ).default({}),
  logLevel: z.enum(['debug', 'info', 'warn', 'error'], { error: 'must be debug, info, warn or error' }).default('info'),
});

/** Secret keys: never accepted as plain config, never copied into `values`. */
export const SECRET_KEYS = Object.freeze(['sftpPrivateKey'] as const);

const FIXES: Record<string, string> = {
  namePrefix: 'pulumi config set namePrefix ossferry-prod',
  statusBucket: 'pulumi config set statusBucket <bucket where job status objects live>',
  statusPrefix: 'pulumi config set statusPrefix ossferry/status/',
  sources: `pulumi config set sources '[{"bucket":"my-src","prefix":"in/"}]'`,
  destinations: `pulumi config set destinations '[{"bucket":"my-dst","prefix":"copies/"}]'`,
  createBuckets: `pulumi config set createBuckets '["my-new-bucket"]' (only buckets this stack should create and own)`,
  abortIncompleteUploadsDays: 'pulumi config set abortIncompleteUploadsDays 3',
  sweep: "pulumi config set --path sweep.schedule '0 0 3 * * *' (or sweep.olderThan 24h, sweep.enabled false)",
  coordinator: 'pulumi config set --path coordinator.<field> <value>',
  worker: 'pulumi config set --path worker.<field> <value>',
  transfer: 'pulumi config set --path transfer.<field> <value>',
  object: 'pulumi config set --path object.storageClass IA (fields: storageClass, serverSideEncryption, kmsKeyId, tags, acl)',
  logging: 'pulumi config set --path logging.<field> <value>',
  alarms: "pulumi config set --path 'alarms.contactGroups[0]' <CloudMonitor contact group>",
  instanceQuota: 'pulumi config set instanceQuota <your regional on-demand instance quota, default 100>',
  vpc: 'pulumi config set --path vpc.mode none|create|existing (see docs/deploy.md)',
  image: 'pulumi config set --path image.namespace <ns>; pulumi config set --path image.repo <repo>; pulumi config set --path image.digest sha256:…',
  internetAccess: 'pulumi config set internetAccess true',
  allowedSourceHosts: `pulumi config set allowedSourceHosts '["files.corp.example","10.0.0.0/8"]'`,
  allowedOssEndpoints: `pulumi config set allowedOssEndpoints '["oss.corp.example","10.0.0.5:9000"]'`,
  sftpHostKeys: `pulumi config set sftpHostKeys '{"sftp.example.com:22":"SHA256:…"}'`,
  logLevel: 'pulumi config set logLevel info',
};

const key = (path: string) => `${NAMESPACE}:${path}`;
const fixFor = (path: string, example?: string) =>
  example ? `pulumi config set --path ${path} ${example}` : (FIXES[path.split(/[.[]/)[0]!] ?? `pulumi config set ${path} <value>`);

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v) as unknown;
      } catch {
        return v;
      }
    }
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  }
  return v;
}

function refuse(path: string, problem: string, fix: string): never {
  throw new InvalidInputError(key(path), problem, fix);
}

// ---------------------------------------------------------------------------------------------------------
// Derived checks, exported for property tests.

/** FC limits: memory 128..32768 MB in multiples of 64. */
export function memoryProblem(memoryMb: number): string | undefined {
  if (!Number.isSafeInteger(memoryMb) || memoryMb < FC.MIN_MEMORY_MB || memoryMb > FC.MAX_MEMORY_MB) {
    return `must be between ${FC.MIN_MEMORY_MB} and ${FC.MAX_MEMORY_MB} MB, got ${memoryMb}`;
  }
  if (memoryMb % FC.MEMORY_STEP_MB !== 0) return `must be a multiple of ${FC.MEMORY_STEP_MB} MB, got ${memoryMb}`;
  return undefined;
}

/** vCPU as an integer count of 0.05 steps, or undefined when it is not on the grid. */
function vcpuSteps(vcpu: number): number | undefined {
  const steps = Math.round(vcpu * 20);
  return Math.abs(steps - vcpu * 20) < 1e-9 ? steps : undefined;
}

/** FC limits: vCPU 0.05..16 in steps of 0.05, and memory(GB):vCPU between 1:1 and 4:1. */
export function vcpuProblem(vcpu: number, memoryMb: number): string | undefined {
  const steps = vcpuSteps(vcpu);
  if (steps === undefined || vcpu < FC.MIN_VCPU - 1e-9 || vcpu > FC.MAX_VCPU + 1e-9) {
    return `must be between ${FC.MIN_VCPU} and ${FC.MAX_VCPU} in steps of 0.05, got ${vcpu}`;
  }
  // Integer arithmetic: GB/vCPU = (memoryMb/1024) / (steps/20); ratio in [1, 4] ⇔ 1024·steps ≤ 20·memoryMb ≤ 4096·steps.
  if (20 * memoryMb < 1024 * steps || 20 * memoryMb > 4096 * steps) {
    const lo = Math.ceil((memoryMb / 1024 / 4) * 20) / 20;
    const hi = Math.floor((memoryMb / 1024) * 20) / 20;
    return `${vcpu} vCPU with ${memoryMb} MB is outside FC's vCPU:GB ratio of 1:1 to 1:4; for ${memoryMb} MB use ${lo}-${hi} vCPU`;
  }
  return undefined;
}

/** Bytes of part buffers one worker instance holds at peak: every concurrent invocation runs every stream (auto parts at their largest). */
export function partBufferBytes(t: { partSizeBytes?: number | undefined; streamsPerWorker: number }, instanceConcurrency: number): number {
  return (t.partSizeBytes ?? PLAN_DEFAULTS.maxAutoPartSize) * t.streamsPerWorker * instanceConcurrency;
}

/** In-flight part buffers ≤ 60 % of the worker's memory, leaving room for Node and the addon. */
export function memoryBudgetProblem(
  t: { partSizeBytes?: number | undefined; streamsPerWorker: number },
  worker: { memoryMb: number; instanceConcurrency: number },
): string | undefined {
  const need = partBufferBytes(t, worker.instanceConcurrency);
  const have = Math.floor(worker.memoryMb * UNITS.MB * PART_BUFFER_MEMORY_FRACTION);
  if (need <= have) return undefined;
  const needMb = Math.ceil(need / UNITS.MB / PART_BUFFER_MEMORY_FRACTION / FC.MEMORY_STEP_MB) * FC.MEMORY_STEP_MB;
  return (
    `streamsPerWorker (${t.streamsPerWorker}) × partSize (${t.partSizeBytes === undefined ? `auto, up to ${PLAN_DEFAULTS.maxAutoPartSize / UNITS.MB}` : t.partSizeBytes / UNITS.MB} MB) × worker.instanceConcurrency (${worker.instanceConcurrency}) ` +
    `= ${Math.ceil(need / UNITS.MB)} MB of part buffers exceeds ${PART_BUFFER_MEMORY_FRACTION * 100}% of worker.memoryMb (${worker.memoryMb} MB); ` +
    `raise worker.memoryMb to at least ${needMb} or lower the streams or part size`
  );
}

/** OSS: parts are 100 KB..5 GB. */
export function partSizeProblem(partSizeBytes: number): string | undefined {
  if (!Number.isSafeInteger(partSizeBytes) || partSizeBytes < OSS.MIN_PART_SIZE || partSizeBytes > OSS.MAX_PART_SIZE) {
    return `must give a part size between ${OSS.MIN_PART_SIZE} bytes (100 KB) and ${OSS.MAX_PART_SIZE / UNITS.MB} MB (5 GB), got ${partSizeBytes} bytes`;
  }
  return undefined;
}

function checkSizing(prefix: 'coordinator' | 'worker', s: FunctionSizing): void {
  const mem = memoryProblem(s.memoryMb);
  if (mem) refuse(`${prefix}.memoryMb`, mem, fixFor(`${prefix}.memoryMb`, prefix === 'worker' ? '4096' : '512'));
  const cpu = vcpuProblem(s.vcpu, s.memoryMb);
  if (cpu) refuse(`${prefix}.vcpu`, cpu, fixFor(`${prefix}.vcpu`, prefix === 'worker' ? '2' : '0.25'));
  if (!(DISK_SIZES_MB as readonly number[]).includes(s.diskMb)) {
    refuse(`${prefix}.diskMb`, `must be 512 or 10240 (FC offers only these), got ${s.diskMb}`, fixFor(`${prefix}.diskMb`, '512'));
  }
  if (s.timeoutSeconds < 1 || s.timeoutSeconds > FC.MAX_TIMEOUT_SECONDS) {
    refuse(`${prefix}.timeoutSeconds`, `must be between 1 and ${FC.MAX_TIMEOUT_SECONDS} seconds (FC maximum), got ${s.timeoutSeconds}`, fixFor(`${prefix}.timeoutSeconds`, '3600'));
  }
  if (s.instanceConcurrency < 1 || s.instanceConcurrency > FC.MAX_INSTANCE_CONCURRENCY) {
    refuse(
      `${prefix}.instanceConcurrency`,
      `must be between 1 and ${FC.MAX_INSTANCE_CONCURRENCY}, got ${s.instanceConcurrency}`,
      fixFor(`${prefix}.instanceConcurrency`, prefix === 'worker' ? '1' : '20'),
    );
  }
}

function sanitizeStack(stack: string): string {
  const s = stack.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `ossferry-${s || 'stack'}`.slice(0, 40).replace(/-+$/, '');
}

/** FC and RAM names derived from the prefix; RAM role names allow letters, digits, "." and "-" only. */
export function stackNames(namePrefix: string): StackNames {
  return Object.freeze({
    service: namePrefix,
    coordinatorFunction: `${namePrefix}-coordinator`,
    workerFunction: `${namePrefix}-worker`,
    serviceRole: `${namePrefix}-fc-service`,
    triggerRole: `${namePrefix}-oss-trigger`,
    policyPrefix: `${namePrefix}-fc-service`,
    asyncFailureQueue: `${namePrefix}-async-failures`,
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    // Pulumi Outputs are left alone: freezing them would break their internals.
    if ((value as { __pulumiOutput?: unknown }).__pulumiOutput) return value;
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Validates and defaults the raw stack config. Throws InvalidInputError naming the offending key.
 * The result is deeply frozen.
 */
export function validateConfig(raw: RawStackConfig): OssferryStackConfig {
  const warnings: string[] = [];
  if (!raw.region || !/^[a-z]{2}-[a-z0-9-]+$/.test(raw.region)) {
    throw new InvalidInputError('alicloud:region', raw.region ? `"${raw.region}" is not a region id` : 'is required', 'pulumi config set alicloud:region cn-hangzhou');
  }
  if (!raw.accountId || !/^\d{5,20}$/.test(raw.accountId)) {
    throw new InvalidInputError(
      'alicloud:accountId',
      raw.accountId ? 'must be the numeric Alibaba Cloud account (UID)' : 'is required (FC 2.0 resources need the provider account id)',
      'pulumi config set alicloud:accountId <your account UID>',
    );
  }

  for (const k of SECRET_KEYS) {
    if (k in raw.values) {
      refuse(k, 'is set as plain text; it is a secret and would be stored unencrypted', `pulumi config rm ${k} && pulumi config set --secret ${k} < key-file`);
    }
  }

  const parsed = topSchema.safeParse(raw.values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const where = issuePath(issue.path);
      const unknownKey = where ? `${where}.${issue.keys[0]}` : issue.keys[0]!;
      const allowed = where ? '' : `; known keys: ${[...Object.keys(topSchema.shape), ...SECRET_KEYS].join(', ')}`;
      refuse(unknownKey, 'is not a known setting (typo?)', `pulumi config rm ${where ? '--path ' : ''}${unknownKey}${allowed}`);
    }
    const path = issuePath(issue.path);
    const missing = issue.code === 'invalid_type' && valueAt(raw.values, issue.path) === undefined;
    refuse(path, missing ? 'is required' : issue.message, fixFor(path));
  }
  const v = parsed.data;

  // Archive rules: validation and loop safety live in shared/archive-rules.ts (one implementation).
  const archiveRules = parseArchiveRules(v.archiveRules, key('archiveRules'));
  // Versioning of an existing bucket is not visible at preview; the job refuses at start (functions/engine/source-delete.ts).
  for (const [i, r] of archiveRules.entries()) {
    if (!r.deleteSourceAfterVerify) continue;
    warnings.push(
      `archiveRules[${i}] ("${r.name}") sets deleteSourceAfterVerify: OSS has no conditional DELETE, so ossferry deletes only the archived version by its version id, and refuses every job of this rule before uploading unless versioning is Enabled on source bucket ${r.sourceBucket}. Fix: enable versioning on the source bucket (ossutil bucket-versioning --method put oss://${r.sourceBucket} enabled), or set deleteSourceAfterVerify to false`,
    );
  }

  checkSizing('coordinator', v.coordinator as FunctionSizing);
  checkSizing('worker', v.worker as FunctionSizing);
  if (v.coordinator.timeoutSeconds < v.worker.timeoutSeconds) {
    refuse(
      'coordinator.timeoutSeconds',
      `(${v.coordinator.timeoutSeconds} s) is shorter than worker.timeoutSeconds (${v.worker.timeoutSeconds} s); the coordinator waits for its workers`,
      fixFor('coordinator.timeoutSeconds', String(v.worker.timeoutSeconds)),
    );
  }

  const objectDefaults = parseObjectDefaults(v.object, key('object'), FIXES.object!);
  if (objectDefaults.serverSideEncryption === 'KMS') {
    warnings.push(
      `object.serverSideEncryption is KMS: every object is written with a KMS data key, and this stack does not grant the function role kms:GenerateDataKey / kms:Decrypt. Fix: grant them on ${objectDefaults.kmsKeyId ? `key ${objectDefaults.kmsKeyId}` : "OSS's default KMS key"} to the stack's FC service role (<namePrefix>-fc-service), or use AES256`,
    );
  }

  const transfer: TransferConfig = {
    ...(v.transfer.partSizeMb === 'auto' ? {} : { partSizeBytes: v.transfer.partSizeMb * UNITS.MB }),
    streamsPerWorker: v.transfer.streamsPerWorker,
    gzipLevel: v.transfer.gzipLevel as GzipLevel,
  };
  const part = transfer.partSizeBytes === undefined ? undefined : partSizeProblem(transfer.partSizeBytes);
  if (part) refuse('transfer.partSizeMb', part, fixFor('transfer.partSizeMb', 'auto'));
  const budget = memoryBudgetProblem(transfer, v.worker);
  if (budget) refuse('transfer.streamsPerWorker', budget, fixFor('worker.memoryMb', '<MB>'));

  // FC caps on-demand instances per region and account (default 100). A fan-out above the cap only turns into
  // 429 throttles, so refuse it at preview time unless the operator says the quota was raised.
  if (v.worker.maxInstances > v.instanceQuota) {
    refuse(
      'worker.maxInstances',
      `(${v.worker.maxInstances}) is above the account's on-demand instance quota in ${raw.region} (instanceQuota ${v.instanceQuota}; FC's default is ${DEFAULTS.instanceQuota})`,
      `pulumi config set --path worker.maxInstances ${v.instanceQuota}, or after raising the quota in the FC console: pulumi config set instanceQuota ${v.worker.maxInstances}`,
    );
  }
  if (v.alarms.contactGroups.length === 0) {
    warnings.push(`alarms.contactGroups is empty: no CloudMonitor alarms on function errors and throttles. Fix: ${FIXES.alarms}`);
  }

  let vpc: VpcConfig;
  if (v.vpc.mode === 'create') {
    if (!v.vpc.zoneId) refuse('vpc.zoneId', 'is required when vpc.mode is "create"', fixFor('vpc.zoneId', `${raw.region}-h`));
    vpc = { mode: 'create', zoneId: v.vpc.zoneId, cidrBlock: v.vpc.cidrBlock, vswitchCidrBlock: v.vpc.vswitchCidrBlock };
  } else if (v.vpc.mode === 'existing') {
    if (!v.vpc.vpcId) refuse('vpc.vpcId', 'is required when vpc.mode is "existing"', fixFor('vpc.vpcId', 'vpc-…'));
    if (!v.vpc.vswitchIds?.length) refuse('vpc.vswitchIds', 'must list at least one vSwitch when vpc.mode is "existing"', fixFor('vpc.vswitchIds[0]', 'vsw-…'));
    if (!v.vpc.securityGroupId) refuse('vpc.securityGroupId', 'is required when vpc.mode is "existing"', fixFor('vpc.securityGroupId', 'sg-…'));
    vpc = { mode: 'existing', vpcId: v.vpc.vpcId, vswitchIds: v.vpc.vswitchIds, securityGroupId: v.vpc.securityGroupId };
  } else {
    vpc = { mode: 'none' };
  }

  if (!v.image.tag === !v.image.digest) {
    refuse('image.digest', 'exactly one of image.tag and image.digest must be set', fixFor('image.digest', 'sha256:<digest from docker push>'));
  }
  if (v.image.tag) {
    // With image acceleration, a tag re-pointed to another digest sends the function to Failed.
    warnings.push(`image.tag "${v.image.tag}" is mutable; prefer image.digest so a re-pushed tag cannot break deployed functions. Fix: pulumi config rm --path image.tag; pulumi config set --path image.digest sha256:<digest>`);
  }
  const registry = v.image.registry ?? `registry-vpc.${raw.region}.aliyuncs.com`;
  const image: ImageConfig = {
    registry,
    namespace: v.image.namespace,
    repo: v.image.repo,
    ...(v.image.tag ? { tag: v.image.tag } : {}),
    ...(v.image.digest ? { digest: v.image.digest } : {}),
    createRepository: v.image.createRepository,
    reference: `${registry}/${v.image.namespace}/${v.image.repo}${v.image.digest ? `@${v.image.digest}` : `:${v.image.tag}`}`,
  };

  try {
    parseAllowList(v.allowedSourceHosts);
  } catch (err) {
    refuse('allowedSourceHosts', (err as Error).message, FIXES.allowedSourceHosts!);
  }

  for (const e of v.allowedOssEndpoints) {
    // Bare host[:port] only: an entry grants the functions' credentials to exactly that endpoint.
    const syntax = endpointSyntax(e);
    if (!syntax.ok || e.includes('://')) refuse('allowedOssEndpoints', `${JSON.stringify(e)} is not a host or host:port${syntax.ok ? ' (leave the scheme out)' : ` (${syntax.detail})`}`, FIXES.allowedOssEndpoints!);
  }

  const sftpPrivateKey = raw.secrets?.sftpPrivateKey;
  if (Object.keys(v.sftpHostKeys).length > 0 && !sftpPrivateKey) {
    refuse('sftpPrivateKey', 'is required when sftpHostKeys lists SFTP hosts', 'pulumi config set --secret sftpPrivateKey < ~/.ssh/ossferry_ed25519');
  }
  if (Object.keys(v.sftpHostKeys).length > 0 && vpc.mode === 'none') {
    warnings.push('sftpHostKeys is set but vpc.mode is "none": workers reach SFTP hosts only over the Internet. Fix, for SFTP hosts in a VPC: pulumi config set --path vpc.mode existing (see docs/deploy.md)');
  }

  if (v.destinations.length === 0 && archiveRules.length === 0) {
    refuse('destinations', 'is empty and there are no archiveRules, so the functions could write nowhere', FIXES.destinations!);
  }

  const namePrefix = v.namePrefix ?? sanitizeStack(raw.stack);
  if (!NAME_PREFIX_RE.test(namePrefix)) {
    refuse('namePrefix', `the default "${namePrefix}" derived from the stack name is not a valid name prefix`, FIXES.namePrefix!);
  }
  const logProject = v.logging.project ?? `${namePrefix}-logs-${raw.accountId}`;
  if (!LOG_PROJECT_RE.test(logProject)) {
    refuse('logging.project', `the default "${logProject}" is not a valid SLS project name (3-63 chars)`, fixFor('logging.project', 'my-ossferry-logs'));
  }

  const createBuckets = [...new Set(v.createBuckets)];

  const config: OssferryStackConfig = {
    project: raw.project,
    stack: raw.stack,
    region: raw.region,
    accountId: raw.accountId,
    namePrefix,
    names: stackNames(namePrefix),
    statusBucket: v.statusBucket,
    statusPrefix: v.statusPrefix,
    sources: v.sources,
    destinations: v.destinations,
    archiveRules,
    createBuckets,
    abortIncompleteUploadsDays: v.abortIncompleteUploadsDays,
    sweep: { enabled: v.sweep.enabled, schedule: v.sweep.schedule.trim(), olderThanSeconds: parseDurationSeconds(v.sweep.olderThan) as number },
    coordinator: v.coordinator as CoordinatorConfig,
    worker: v.worker as WorkerConfig,
    transfer,
    object: objectDefaults,
    logging: { ...v.logging, project: logProject },
    alarms: { contactGroups: v.alarms.contactGroups },
    instanceQuota: v.instanceQuota,
    vpc,
    image,
    internetAccess: v.internetAccess,
    allowedSourceHosts: v.allowedSourceHosts,
    allowedOssEndpoints: v.allowedOssEndpoints,
    sftpHostKeys: v.sftpHostKeys,
    logLevel: v.logLevel,
    secrets: sftpPrivateKey ? { sftpPrivateKey } : {},
    warnings,
  };

  // FC: all environment variables of a function ≤ 4 KB (infra/env.ts). The coordinator's is the larger.
  // The SFTP key is checked against what is left when its secret value is known (transfer-service.ts).
  const used = Math.max(envBytes(functionEnvironment(config, 'coordinator')), envBytes(functionEnvironment(config, 'worker')));
  if (used > MAX_ENV_BYTES) {
    const parts: Array<[string, number]> = [
      ['archiveRules', JSON.stringify(archiveRules).length],
      ['sftpHostKeys', JSON.stringify(v.sftpHostKeys).length],
      ['allowedSourceHosts', v.allowedSourceHosts.join(',').length],
      ['allowedOssEndpoints', v.allowedOssEndpoints.join(',').length],
    ];
    const [biggest] = parts.sort((a, b) => b[1] - a[1])[0]!;
    refuse(
      biggest,
      `makes the function environment ${used} bytes, over FC's ${MAX_ENV_BYTES}-byte limit for all environment variables`,
      'shorten it: fewer or shorter archive rules, host keys or allowed hosts',
    );
  }
  return deepFreeze(config);
}
