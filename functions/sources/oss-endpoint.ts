/**
 * The guard for a job-named OSS endpoint (`sourceEndpoint` of an oss:// source). Requests to it are signed
 * with the function's STS credentials, so before any connection the endpoint must pass the credential
 * policy (shared/oss-endpoint.ts: an OSS endpoint by name, the deployment's configured endpoint, or
 * allow-listed in OSSFERRY_ALLOWED_OSS_ENDPOINTS), and every connection the client then opens is screened
 * (screen.ts screeningLookup) so a name cannot lead to the metadata service or into the VPC.
 */
import type { LookupFunction } from 'node:net';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { checkOssEndpoint, isOfficialOssConnectHost, parseEndpointAllowList } from '../../shared/oss-endpoint.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import { screeningLookup, SourceRefusedError, type Resolver } from './screen.ts';

/** What an OSS source client for a job-named endpoint is built with. */
export interface GuardedOssEndpoint {
  /** The endpoint as ali-oss takes it (scheme included). */
  endpoint: string;
  /** Screens every connection; undefined for the deployment's own configured endpoint. */
  lookup?: LookupFunction;
}

export interface OssEndpointGuardOptions {
  env?: Record<string, string | undefined>;
  resolver?: Resolver;
  /** The job field the endpoint came from, for errors. Default "sourceEndpoint". */
  field?: string;
}

const EMPTY: AllowList = { entries: [] };

/**
 * Checks a job-named endpoint and returns how to connect to it. Throws SourceRefusedError (bad input,
 * naming the field and the fix) for an endpoint that may not receive credentials; nothing is contacted.
 */
export function guardOssEndpoint(endpoint: string, options: OssEndpointGuardOptions = {}): GuardedOssEndpoint {
  const env = options.env ?? process.env;
  const field = options.field ?? 'sourceEndpoint';
  const policy = {
    ...(env[FUNCTION_ENV.OSS_ENDPOINT] ? { configured: env[FUNCTION_ENV.OSS_ENDPOINT] } : {}),
    allowed: parseEndpointAllowList(env[FUNCTION_ENV.ALLOWED_OSS_ENDPOINTS]),
  };
  const verdict = checkOssEndpoint(endpoint, policy);
  if (!verdict.ok) {
    throw new SourceRefusedError(
      field,
      `${JSON.stringify(endpoint.slice(0, 120))} ${verdict.detail}; requests to it would carry the function's credentials`,
      `name the source bucket's OSS endpoint (https://oss-<region>.aliyuncs.com, or --source-region), or have the operator add the host to ${FUNCTION_ENV.ALLOWED_OSS_ENDPOINTS}`,
    );
  }
  const url = verdict.url.toString().replace(/\/$/, '');
  const resolver = options.resolver ? { resolver: options.resolver } : {};
  switch (verdict.trust) {
    case 'configured':
      return { endpoint: url };
    case 'official':
      // OSS internal endpoints resolve into 100.64.0.0/10; nothing else private, and never the metadata service.
      return { endpoint: url, lookup: screeningLookup({ allow: EMPTY, permit: ['cgnat'], acceptHost: isOfficialOssConnectHost, field, ...resolver }) };
    case 'allow-listed': {
      // The operator named this host: its addresses may be private, but the connection host must stay under it.
      const host = verdict.host;
      return {
        endpoint: url,
        lookup: screeningLookup({
          allow: EMPTY,
          permit: ['private', 'loopback', 'cgnat', 'link-local', 'unique-local', 'reserved'],
          acceptHost: (h) => h.toLowerCase() === host || h.toLowerCase().endsWith(`.${host}`),
          field,
          ...resolver,
        }),
      };
    }
  }
}
