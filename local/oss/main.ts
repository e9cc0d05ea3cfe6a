/**
 * Runs the local OSS on its own: `node local/oss/main.ts --port 9000 --data-dir ./oss-data`.
 * Prints one JSON line {"event":"ready",endpoint,port,region,accessKeyId,accessKeySecret,dataDir,adminEndpoint,adminToken}
 * on stdout
 * (tests and scripts read it), then runs until SIGINT/SIGTERM. The same options back `ossferry local oss`.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../../shared/log.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseFaultConfig } from './faults.ts';
import { startOssServer, type LocalOss, type OssServerOptions } from './index.ts';

export interface LocalOssCliFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  region?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  bucket?: string[];
  anonymous?: boolean;
  faults?: string;
  seed?: string;
  fsync?: boolean;
  verbose?: boolean;
  adminPort?: string;
}

export function optionsFromFlags(f: LocalOssCliFlags): OssServerOptions {
  const port = Number(f.port ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidInputError('--port', `${JSON.stringify(f.port)} is not a port`, 'pass 0..65535');
  }
  const o: OssServerOptions = { port, host: f.host ?? '127.0.0.1', region: f.region ?? 'cn-hangzhou', fsync: f.fsync !== false };
  if (f.dataDir) o.dataDir = f.dataDir;
  if (f.accessKeyId) o.accessKeyId = f.accessKeyId;
  if (f.accessKeySecret) o.accessKeySecret = f.accessKeySecret;
  if (f.bucket) o.buckets = f.bucket;
  if (f.anonymous) o.allowAnonymous = true;
  if (f.faults) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(f.faults);
    } catch (err) {
      throw new InvalidInputError('--faults', 'is not valid JSON', 'pass e.g. \'{"all":{"errorRate":0.01}}\'', { cause: err });
    }
    o.faults = parseFaultConfig(parsed);
  }
  if (f.seed !== undefined) o.seed = Number(f.seed);
  if (f.adminPort !== undefined) {
    const adminPort = Number(f.adminPort);
    if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535) {
      throw new InvalidInputError('--admin-port', `${JSON.stringify(f.adminPort)} is not a port`, 'pass 0..65535');
    }
    o.adminPort = adminPort;
  }
  if (f.verbose) o.logger = createLogger({ component: 'local-oss' }, { level: 'debug' });
  return o;
}

/** Starts the server, prints the ready line, and closes it on SIGINT/SIGTERM. */
export async function runLocalOss(f: LocalOssCliFlags): Promise<LocalOss> {
  const oss = await startOssServer(optionsFromFlags(f));
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      endpoint: oss.endpoint,
      port: oss.port,
      region: oss.region,
      accessKeyId: oss.accessKeyId,
      accessKeySecret: oss.accessKeySecret,
      dataDir: oss.dataDir,
      adminEndpoint: oss.admin.endpoint,
      adminToken: oss.admin.token,
    }) + '\n',
  );
  const stop = () => {
    void oss.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return oss;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // node:util parseArgs rather than commander keeps the standalone server's resident memory lower.
  const parsed = (() => {
    try {
      return parseArgs({
        options: {
          port: { type: 'string' },
          host: { type: 'string' },
          'data-dir': { type: 'string' },
          region: { type: 'string' },
          'access-key-id': { type: 'string' },
          'access-key-secret': { type: 'string' },
          bucket: { type: 'string', multiple: true },
          anonymous: { type: 'boolean' },
          faults: { type: 'string' },
          seed: { type: 'string' },
          'no-fsync': { type: 'boolean' },
          verbose: { type: 'boolean' },
          'admin-port': { type: 'string' },
        },
      }).values;
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\nusage: node local/oss/main.ts [--port N] [--data-dir DIR] [--bucket NAME...] [--access-key-id ID] [--access-key-secret S] [--region R] [--anonymous] [--faults JSON] [--seed N] [--no-fsync] [--verbose] [--admin-port N]\n`);
      process.exit(2);
    }
  })();
  const flags: LocalOssCliFlags = {
    port: parsed.port,
    host: parsed.host,
    dataDir: parsed['data-dir'],
    region: parsed.region,
    accessKeyId: parsed['access-key-id'],
    accessKeySecret: parsed['access-key-secret'],
    bucket: parsed.bucket,
    anonymous: parsed.anonymous,
    faults: parsed.faults,
    seed: parsed.seed,
    fsync: parsed['no-fsync'] ? false : undefined,
    verbose: parsed.verbose,
    adminPort: parsed['admin-port'],
  };
  runLocalOss(flags).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
