/**
 * ali-oss client options for a local OSS, whether it runs in this process (./index.ts startOssServer) or in
 * a child process (../server-process.ts). Kept apart from ./index.ts so the parent of a server process
 * does not load the server to build them.
 */
import type { OssClientOptions, StsCredential } from './index.ts';

/** Where a local OSS listens and the credentials it accepts. */
export interface LocalOssAddress {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  /** Standard region, e.g. `cn-hangzhou`. */
  region: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export interface LocalClientOptionsRequest {
  pathStyle?: boolean;
  v4?: boolean;
  sts?: StsCredential;
}

/** Options for `new OSS({...})` that work against the local OSS at `at` (LocalOss.clientOptions). */
export function localOssClientOptions(at: LocalOssAddress, bucket: string, opts: LocalClientOptionsRequest = {}): OssClientOptions {
  const cred = opts.sts ?? { accessKeyId: at.accessKeyId, accessKeySecret: at.accessKeySecret };
  const out: OssClientOptions = {
    // An IP endpoint makes ali-oss send Host `<bucket>.oss-<region>.aliyuncs.com`;
    // path style needs a hostname (localhost) plus sldEnable.
    endpoint: opts.pathStyle ? `http://localhost:${at.port}` : at.endpoint,
    region: `oss-${at.region}`,
    bucket,
    accessKeyId: cred.accessKeyId,
    accessKeySecret: cred.accessKeySecret,
    secure: false,
    // ali-oss's timeout covers the whole request; local multi-GB parts need more than 60 s.
    timeout: 600_000,
  };
  if (opts.sts) out.stsToken = opts.sts.securityToken;
  if (opts.pathStyle) out.sldEnable = true;
  if (opts.v4) out.authorizationV4 = true;
  return out;
}
