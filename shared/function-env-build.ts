/**
 * The one builder of the functions' environment, used by the Pulumi stack (infra/env.ts) and by the local
 * cloud (local/cloud.ts), so what a deployed function and a local one see cannot drift apart. Pure data in,
 * plain variables out. Each role gets only what its code reads (test/infra/env-readers.test.ts fails when a
 * variable is written that no function code reads).
 */
import { FUNCTION_ENV } from './function-env.ts';

export type FunctionRole = 'coordinator' | 'worker';

export interface FunctionEnvSpec {
  serviceName: string;
  workerFunction: string;
  accountId: string;
  region: string;
  /** oss://bucket/prefix of the job status objects. */
  statusLocation: string;
  /** The coordinator's cap on a job's worker fan-out. */
  maxWorkers: number;
  workerTimeoutSeconds: number;
  /** Hosts/CIDRs a source may resolve to despite being private (SSRF allow-list). */
  allowedSourceHosts: readonly string[];
  /** Endpoints besides OSS's own that a job may name for an oss:// source (they receive the credentials). */
  allowedOssEndpoints?: readonly string[];
  logLevel?: string;
  /** The coordinator's job defaults (shared/job-defaults.ts); explicit job options win. Unset: the job's own defaults. */
  transfer?: { partSizeBytes?: number; streamsPerWorker?: number; gzipLevel?: number };
  /** Destination object defaults (shared/job-defaults.ts ObjectDefaults); a job's own `object` fields win. */
  objectDefaults?: Readonly<Record<string, unknown>>;
  archiveRules?: readonly unknown[];
  sftpHostKeys?: Readonly<Record<string, string>>;
  /** Plain SFTP key (local cloud only: the stack injects it as a secret Output). */
  sftpPrivateKey?: string;
  /** Endpoint overrides for the local servers; unset in the cloud. */
  endpoints?: { fc?: string; oss?: string };
}

export function buildFunctionEnv(s: FunctionEnvSpec, role: FunctionRole): Record<string, string> {
  const env: Record<string, string> = {
    [FUNCTION_ENV.ROLE]: role,
    [FUNCTION_ENV.ACCOUNT_ID]: s.accountId,
    [FUNCTION_ENV.REGION]: s.region,
    [FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]: s.allowedSourceHosts.join(','),
  };
  if (s.allowedOssEndpoints && s.allowedOssEndpoints.length > 0) env[FUNCTION_ENV.ALLOWED_OSS_ENDPOINTS] = s.allowedOssEndpoints.join(',');
  if (s.logLevel !== undefined) env[FUNCTION_ENV.LOG_LEVEL] = s.logLevel;
  if (s.endpoints?.oss !== undefined) env[FUNCTION_ENV.OSS_ENDPOINT] = s.endpoints.oss;
  if (s.sftpHostKeys && Object.keys(s.sftpHostKeys).length > 0) env[FUNCTION_ENV.SFTP_HOST_KEYS] = JSON.stringify(s.sftpHostKeys);
  if (s.sftpPrivateKey !== undefined) env[FUNCTION_ENV.SFTP_PRIVATE_KEY] = s.sftpPrivateKey;
  if (role === 'worker') return env;

  // The coordinator plans jobs, fans out to the worker, keeps status and matches OSS events to rules.
  env[FUNCTION_ENV.SERVICE_NAME] = s.serviceName;
  env[FUNCTION_ENV.WORKER_FUNCTION] = s.workerFunction;
  env[FUNCTION_ENV.STATUS_LOCATION] = s.statusLocation;
  env[FUNCTION_ENV.MAX_WORKERS] = String(s.maxWorkers);
  env[FUNCTION_ENV.WORKER_TIMEOUT_SECONDS] = String(s.workerTimeoutSeconds);
  if (s.endpoints?.fc !== undefined) env[FUNCTION_ENV.FC_ENDPOINT] = s.endpoints.fc;
  if (s.transfer?.partSizeBytes !== undefined) env[FUNCTION_ENV.PART_SIZE_BYTES] = String(s.transfer.partSizeBytes);
  if (s.transfer?.streamsPerWorker !== undefined) env[FUNCTION_ENV.STREAMS_PER_WORKER] = String(s.transfer.streamsPerWorker);
  if (s.transfer?.gzipLevel !== undefined) env[FUNCTION_ENV.GZIP_LEVEL] = String(s.transfer.gzipLevel);
  if (s.objectDefaults && Object.keys(s.objectDefaults).length > 0) env[FUNCTION_ENV.OBJECT_DEFAULTS] = JSON.stringify(s.objectDefaults);
  if (s.archiveRules && s.archiveRules.length > 0) env[FUNCTION_ENV.ARCHIVE_RULES] = JSON.stringify(s.archiveRules);
  return env;
}
