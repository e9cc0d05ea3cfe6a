/**
 * OSS client factory over ali-oss: endpoint selection (explicit → env OSSFERRY_OSS_ENDPOINT → the
 * region's internal endpoint, where FC→OSS traffic is free, OSS pricing) and options that suit streamed
 * multi-GB parts: no ali-oss retry (it cannot re-send a consumed stream; ossferry
 * retries by re-reading the range) and a long default timeout (it covers the whole request, body included).
 */
import OSS from 'ali-oss';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';

export interface OssCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS token (FC injects STS credentials of the service role). */
  securityToken?: string;
}

export interface OssEndpointOptions {
  /** Explicit endpoint (URL or host). Wins over everything. */
  endpoint?: string;
  /** Region id, with or without "oss-" (e.g. cn-hangzhou). */
  region?: string;
  /** Use the -internal endpoint (same-region VPC/FC traffic). Default true. */
  internal?: boolean;
  env?: Record<string, string | undefined>;
}

export interface OssClientConfig extends OssEndpointOptions {
  bucket: string;
  credentials: OssCredentials;
  /** Default request timeout in ms (each call may pass its own). Default 600 s. */
  timeoutMs?: number;
  /**
   * Resolves (and screens) every connection's host: set for endpoints a job named (functions/sources/oss-endpoint.ts).
   * The client then gets keep-alive agents of its own instead of ali-oss's shared ones.
   */
  lookup?: LookupFunction;
}

/** Region id without the "oss-" prefix. */
export function normaliseRegion(region: string): string {
  return region.replace(/^oss-/, '');
}

/** The endpoint URL to use. Throws InvalidInputError when neither endpoint nor region is known. */
export function ossEndpoint(options: OssEndpointOptions): string {
  const env = options.env ?? process.env;
  const explicit = options.endpoint ?? env[FUNCTION_ENV.OSS_ENDPOINT];
  if (explicit) return explicit.includes('://') ? explicit : `https://${explicit}`;
  if (!options.region) {
    throw new InvalidInputError('oss.region', 'no OSS endpoint or region is known', `set ${FUNCTION_ENV.OSS_ENDPOINT} or pass a region`);
  }
  const r = normaliseRegion(options.region);
  return `https://oss-${r}${options.internal === false ? '' : '-internal'}.aliyuncs.com`;
}

/** ali-oss options for a bucket (exported for callers that need to tweak them). */
export function ossClientOptions(config: OssClientConfig): OSS.Options {
  const opts: OSS.Options & { retryMax?: number; endpoint?: string } = {
    bucket: config.bucket,
    accessKeyId: config.credentials.accessKeyId,
    accessKeySecret: config.credentials.accessKeySecret,
    endpoint: ossEndpoint(config),
    timeout: config.timeoutMs ?? 600_000,
    retryMax: 0,
  };
  const region = config.region ?? config.env?.[FUNCTION_ENV.REGION] ?? process.env[FUNCTION_ENV.REGION];
  // With an IP endpoint (local OSS) ali-oss derives the Host header from the region (`<bucket>.oss-<region>.aliyuncs.com`).
  if (region) opts.region = `oss-${normaliseRegion(region)}`;
  if (config.credentials.securityToken) opts.stsToken = config.credentials.securityToken;
  if (opts.endpoint!.startsWith('https://')) opts.secure = true;
  if (config.lookup) {
    const agentOptions = { keepAlive: true, lookup: config.lookup };
    Object.assign(opts, { agent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) });
  }
  return opts;
}

/** A new ali-oss client for `bucket`. */
export function createOssClient(config: OssClientConfig): OSS {
  return new OSS(ossClientOptions(config));
}
