/**
 * Local OSS: a protocol-faithful, OSS-compatible server for tests, benchmarks and `ossferry local oss`.
 * `startOssServer()` returns the endpoint, credentials and ready-to-spread ali-oss client options.
 * See local/oss/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '../../shared/log.ts';
import type { Credential } from './auth.ts';
import { localOssClientOptions, type LocalClientOptionsRequest } from './client-options.ts';
import { Faults, type FaultConfig } from './faults.ts';
import { startAdminServer } from './admin.ts';
import { createOssHttpServer } from './server.ts';
import { Store } from './store.ts';
import { DEFAULT_TIMEOUTS } from './timeouts.ts';

export type { FaultConfig, OperationFault } from './faults.ts';
export type { Credential } from './auth.ts';

export interface StsCredential {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  /** After this instant requests with these credentials get 403 SecurityTokenExpired. */
  expiration?: Date;
}

export interface OssServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Kept on close when given; otherwise a temp dir removed on close. */
  dataDir?: string;
  /** Standard region without `oss-` (default cn-hangzhou); V4 signatures must use it. */
  region?: string;
  accessKeyId?: string;
  /** Generated when omitted. */
  accessKeySecret?: string;
  /** Extra STS credentials; requests with them must carry the security token. */
  sts?: StsCredential | StsCredential[];
  /** Accept unsigned requests (default false: 403 AccessDenied). */
  allowAnonymous?: boolean;
  faults?: FaultConfig;
  /** Seed for fault decisions (FaultConfig.seed wins). */
  seed?: number;
  /** Buckets created at start if missing. */
  buckets?: string[];
  /** fsync bodies and metadata before making them visible (default true). */
  fsync?: boolean;
  /** Default: silent. Pass createLogger() for JSON request logs at debug level. */
  logger?: Logger;
  /** Port of the admin API (0, the default, picks a free one); it listens on loopback only. */
  adminPort?: number;
  /** A request body idle this long, or a client not reading a response this long, is cut (400 RequestTimeout). Default 60 s; 0 = off. */
  idleTimeoutMs?: number;
  /** A request body not complete this long after the request started → 400 RequestTimeout. Default 1 h; 0 = off. */
  bodyTimeoutMs?: number;
}

export interface OssClientOptions {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  authorizationV4?: boolean;
  sldEnable?: boolean;
  secure: false;
  timeout: number;
}

export interface LocalOss {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  host: string;
  /** Standard region, e.g. `cn-hangzhou`. */
  region: string;
  accessKeyId: string;
  accessKeySecret: string;
  dataDir: string;
  /**
   * Options for `new OSS({...})` that work against this server. Default: IP endpoint (bucket from the Host
   * header). `{ pathStyle: true }`: `http://localhost:PORT` + `sldEnable`.
   */
  clientOptions(bucket: string, opts?: LocalClientOptionsRequest): OssClientOptions;
  /** The admin API (health, run-time faults): its own loopback port, `Authorization: Bearer <token>`. */
  admin: { endpoint: string; token: string };
  setFaults(f: FaultConfig): void;
  /**
   * Tests: runs `fn` once, at an exact point of the next request of `operation` (a hook, not a sleep): `request`
   * (default) before it is handled, e.g. rewriting a copy source just before the first UploadPartCopy reads it;
   * `answer` once a part is stored and before the answer is sent (UploadPart, UploadPartCopy), e.g. changing a
   * source after a part was read in full and before the client can read it again.
   */
  onceBefore(operation: string, fn: () => Promise<void>, at?: 'request' | 'answer'): void;
  close(): Promise<void>;
}

export async function startOssServer(options: OssServerOptions = {}): Promise<LocalOss> {
  const region = (options.region ?? 'cn-hangzhou').replace(/^oss-/, '');
  const host = options.host ?? '127.0.0.1';
  const accessKeyId = options.accessKeyId ?? `LTAI${randomBytes(8).toString('hex')}`;
  const accessKeySecret = options.accessKeySecret ?? randomBytes(15).toString('base64url');
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ossferry-oss-')));
  const store = new Store(dataDir, { fsync: options.fsync ?? true });
  await store.open();
  for (const b of options.buckets ?? []) if (!store.hasBucket(b)) await store.createBucket(b);

  const creds = new Map<string, Credential>([[accessKeyId, { accessKeyId, accessKeySecret }]]);
  const sts = options.sts === undefined ? [] : Array.isArray(options.sts) ? options.sts : [options.sts];
  for (const s of sts) creds.set(s.accessKeyId, { ...s });
  const faults = new Faults(options.faults, options.seed);
  let endpoint = '';
  const armed = new Map<string, Array<() => Promise<void>>>();
  const server = createOssHttpServer({
    testHook: async (op, at) => {
      const fn = armed.get(`${at} ${op}`)?.shift();
      if (fn) await fn();
    },
    store,
    faults,
    region,
    credentials: (ak) => creds.get(ak),
    allowAnonymous: options.allowAnonymous ?? false,
    logger: options.logger ?? silentLogger,
    endpoint: () => endpoint,
    timeouts: { idleMs: options.idleTimeoutMs ?? DEFAULT_TIMEOUTS.idleMs, bodyMs: options.bodyTimeoutMs ?? DEFAULT_TIMEOUTS.bodyMs },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // The OSS host when it is a loopback address, else 127.0.0.1: the admin API never listens beyond loopback.
  const adminHost = host === '::1' || host.startsWith('127.') ? host : '127.0.0.1';
  let admin;
  try {
    admin = await startAdminServer({ store, faults, host: adminHost, port: options.adminPort ?? 0 });
  } catch (err) {
    server.close();
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  endpoint = `http://${urlHost}:${port}`;
  let closed = false;
  return {
    endpoint,
    port,
    host,
    region,
    accessKeyId,
    accessKeySecret,
    dataDir,
    admin: { endpoint: admin.endpoint, token: admin.token },
    clientOptions: (bucket, opts) => localOssClientOptions({ endpoint, port, region, accessKeyId, accessKeySecret }, bucket, opts),
    setFaults(f) {
      faults.set(f, options.seed);
    },
    onceBefore(operation, fn, at = 'request') {
      const k = `${at} ${operation}`;
      armed.set(k, [...(armed.get(k) ?? []), fn]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await admin.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

