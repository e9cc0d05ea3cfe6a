/**
 * Environment variables of the deployed functions, as plain data (the secret SFTP key is added by the
 * transfer-service component as an Output, never here). Names come from shared/function-env.ts, so the
 * stack and the functions agree by construction.
 */
import { InvalidInputError } from '../shared/errors.ts';
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { FC } from '../shared/limits.ts';
import type { OssferryStackConfig } from './config-schema.ts';

export type FunctionRole = 'coordinator' | 'worker';

/** The custom-container HTTP port, set explicitly (fc-platform.md §0 item 4, §2.2). */
export const CA_PORT = FC.DEFAULT_CA_PORT;

/**
 * FC limits on function environment variables (alibabacloud.com/help/en/functioncompute/fc/environment-variables):
 * "The total size of all environment variables cannot exceed 4 KB", and the `FC_*` prefix is reserved. Hence
 * FUNCTION_ENV.PORT (FC_SERVER_PORT) is never set here: FC reserves it, and the runtime server defaults to
 * 9000 = caPort (functions/runtime/server.ts).
 */
export const MAX_ENV_BYTES = 4096;
export const RESERVED_ENV_PREFIX = 'FC_';

/** Bytes the variables take, counted as the JSON object FC stores (conservative: includes quotes and commas). */
export function envBytes(env: Record<string, string>): number {
  return Buffer.byteLength(JSON.stringify(env));
}

export function functionEnvironment(c: OssferryStackConfig, role: FunctionRole): Record<string, string> {
  const env: Record<string, string> = {
    [FUNCTION_ENV.ROLE]: role,
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

/**
 * The 4 KB limit including the SFTP private key, checked once the secret's value is known. Returns the key;
 * the error gives sizes only, never the key.
 */
export function withinEnvLimit(plain: Record<string, string>, key: string, role: FunctionRole): string {
  const total = envBytes({ ...plain, [FUNCTION_ENV.SFTP_PRIVATE_KEY]: key });
  if (total > MAX_ENV_BYTES) {
    throw new InvalidInputError(
      'ossferry:sftpPrivateKey',
      `a ${Buffer.byteLength(key)}-byte key makes the ${role} environment ${total} bytes, over FC's ${MAX_ENV_BYTES}-byte limit`,
      'use an ed25519 key (about 400 bytes) instead of RSA, or shorten archiveRules',
    );
  }
  return key;
}
