/**
 * Environment variables of the deployed functions, as plain data (the secret SFTP key is added by the
 * transfer-service component as an Output, never here). Names come from shared/function-env.ts, so the
 * stack and the functions agree by construction.
 */
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { FC } from '../shared/limits.ts';
import type { OssferryStackConfig } from './config-schema.ts';

export type FunctionRole = 'coordinator' | 'worker';

/** The custom-container HTTP port, set explicitly (fc-platform.md §0 item 4, §2.2). */
export const CA_PORT = FC.DEFAULT_CA_PORT;

export function functionEnvironment(c: OssferryStackConfig, role: FunctionRole): Record<string, string> {
  const env: Record<string, string> = {
    [FUNCTION_ENV.ROLE]: role,
    [FUNCTION_ENV.PORT]: String(CA_PORT),
    [FUNCTION_ENV.SERVICE_NAME]: c.names.service,
    [FUNCTION_ENV.WORKER_FUNCTION]: c.names.workerFunction,
    [FUNCTION_ENV.ACCOUNT_ID]: c.accountId,
    [FUNCTION_ENV.REGION]: c.region,
    [FUNCTION_ENV.STATUS_LOCATION]: `oss://${c.statusBucket}/${c.statusPrefix}`,
    [FUNCTION_ENV.PART_SIZE_BYTES]: String(c.transfer.partSizeBytes),
    [FUNCTION_ENV.STREAMS_PER_WORKER]: String(c.transfer.streamsPerWorker),
    [FUNCTION_ENV.MAX_WORKERS]: String(c.worker.maxInstances),
    [FUNCTION_ENV.GZIP_LEVEL]: String(c.transfer.gzipLevel),
    [FUNCTION_ENV.WORKER_TIMEOUT_SECONDS]: String(c.worker.timeoutSeconds),
    [FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]: c.allowedSourceHosts.join(','),
    [FUNCTION_ENV.LOG_LEVEL]: c.logLevel,
  };
  // Only the coordinator matches OSS events to rules; workers get their task in the invocation payload.
  if (role === 'coordinator') env[FUNCTION_ENV.ARCHIVE_RULES] = JSON.stringify(c.archiveRules);
  if (Object.keys(c.sftpHostKeys).length > 0) env[FUNCTION_ENV.SFTP_HOST_KEYS] = JSON.stringify(c.sftpHostKeys);
  return env;
}
