/**
 * OSS clients for the CLI commands that read OSS directly (status, verify): a local cloud data directory, or a
 * real endpoint/region with the credentials from the environment (never from flags, so they stay out of
 * shell history and process listings).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import OSS from 'ali-oss';
import { InvalidInputError } from '../shared/errors.ts';
import { LOCAL_DEFAULTS } from '../local/cloud.ts';
import { runningCloudState } from '../local/cloud-state.ts';
import { localOssClientOptions } from '../local/oss/client-options.ts';
import { startOssServer } from '../local/oss/index.ts';

export interface OssAccessFlags {
  ossEndpoint?: string;
  ossRegion?: string;
  /**
   * Read a local cloud's data directory: through the running `ossferry local cloud` on it, if any, else a local
   * OSS started on it for the command's lifetime.
   */
  dataDir?: string;
}

export interface OssAccess {
  client(bucket: string): OSS;
  /** Whether the clients reach a local cloud data directory. */
  local: boolean;
  close(): Promise<void>;
}

/** Credentials from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN), naming the one that is missing. */
export function envCredentials(): { accessKeyId: string; accessKeySecret: string; securityToken?: string } {
  const id = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const secret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  if (!id || !secret) {
    // Name the variable that is actually missing (the first one when both are).
    const missing = !id ? 'ALIBABA_CLOUD_ACCESS_KEY_ID' : 'ALIBABA_CLOUD_ACCESS_KEY_SECRET';
    throw new InvalidInputError(missing, 'is not set; ossferry reaches a deployment (FC and OSS) with these credentials', 'export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)');
  }
  const token = process.env.ALIBABA_CLOUD_SECURITY_TOKEN;
  return { accessKeyId: id, accessKeySecret: secret, ...(token ? { securityToken: token } : {}) };
}

export async function ossAccess(o: OssAccessFlags, dataDirHint: string): Promise<OssAccess> {
  if (o.dataDir) {
    if (!existsSync(o.dataDir)) throw new InvalidInputError('--data-dir', `${o.dataDir} does not exist`, `pass the --data-dir used with ${dataDirHint}`);
    // A running `ossferry local cloud` owns its data dir: ask its OSS rather than open a second server on the
    // same files (a second server would also clear the first one's in-flight temp files at start).
    const running = await runningCloudState(path.resolve(o.dataDir));
    if (running) {
      const at = { ...running.oss, port: Number(new URL(running.oss.endpoint).port) };
      const client = (b: string) => new OSS({ ...localOssClientOptions(at, b), retryMax: 0 } as OSS.Options);
      return { client, local: true, async close() {} };
    }
    const oss = await startOssServer({ dataDir: o.dataDir });
    return { client: (b) => new OSS({ ...oss.clientOptions(b), retryMax: 0 } as OSS.Options), local: true, close: () => oss.close() };
  }
  if (!o.ossEndpoint && !o.ossRegion) throw new InvalidInputError('--oss-region', 'is not set', 'pass --oss-region (e.g. cn-hangzhou) or --oss-endpoint');
  const creds = envCredentials();
  return {
    client: (b) =>
      new OSS({
        bucket: b,
        accessKeyId: creds.accessKeyId,
        accessKeySecret: creds.accessKeySecret,
        ...(creds.securityToken ? { stsToken: creds.securityToken } : {}),
        ...(o.ossEndpoint ? { endpoint: o.ossEndpoint } : {}),
        ...(o.ossRegion ? { region: `oss-${o.ossRegion.replace(/^oss-/, '')}` } : {}),
        secure: true,
        // ali-oss's timeout covers the whole request, body included: a multi-GB read needs far more than 60 s.
        timeout: 3_600_000,
      } as OSS.Options),
    local: false,
    async close() {},
  };
}

/**
 * Where a command finds status objects (and receipts): --status-location, else the local cloud's with --data-dir,
 * else OSSFERRY_STATUS_LOCATION; undefined when none is given.
 */
export function statusLocationOf(o: { statusLocation?: string; dataDir?: string }): string | undefined {
  return o.statusLocation ?? (o.dataDir ? `oss://${LOCAL_DEFAULTS.statusBucket}/${LOCAL_DEFAULTS.statusPrefix}` : process.env.OSSFERRY_STATUS_LOCATION) ?? undefined;
}
