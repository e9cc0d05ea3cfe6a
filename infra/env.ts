/**
 * Environment variables of the deployed functions, as plain data (the secret SFTP key is added by the
 * transfer-service component as an Output, never here), built by shared/function-env-build.ts — the same
 * builder the local cloud uses.
 */
import { InvalidInputError } from '../shared/errors.ts';
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { buildFunctionEnv, type FunctionRole } from '../shared/function-env-build.ts';
import { FC } from '../shared/limits.ts';
import type { OssferryStackConfig } from './config-schema.ts';

export type { FunctionRole };

/** The custom-container HTTP port, set explicitly: the provider sends CAPort=0 when it is unset. */
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
  return buildFunctionEnv(
    {
      serviceName: c.names.service,
      workerFunction: c.names.workerFunction,
      accountId: c.accountId,
      region: c.region,
      statusLocation: `oss://${c.statusBucket}/${c.statusPrefix}`,
      maxWorkers: c.worker.maxInstances,
      workerTimeoutSeconds: c.worker.timeoutSeconds,
      allowedSourceHosts: c.allowedSourceHosts,
      allowedOssEndpoints: c.allowedOssEndpoints,
      logLevel: c.logLevel,
      transfer: c.transfer,
      objectDefaults: c.object,
      archiveRules: c.archiveRules,
      sftpHostKeys: c.sftpHostKeys,
    },
    role,
  );
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
