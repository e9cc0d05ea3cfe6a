/**
 * Runs the local OSS or the local HTTP source in a child process of its own (`startLocalCloud({ serverProcesses:
 * true })`, used by bench:copy): every client then talks to a server with its own event loop and CPU, as a real
 * OSS or origin would be, instead of sharing the caller's loop (which made ossferry's bytes cross the bench
 * process twice — source out, OSS in — while ali-oss's crossed it once).
 * The child prints one JSON line {"event":"ready",...} and then obeys JSON lines on stdin ({"op":"setFaults"}).
 * Child entry: `node local/server-process.ts oss|http-source '<options json>'`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { OssferryError } from '../shared/errors.ts';
import type { HttpSourceServer, HttpSourceShaping } from './http-source/index.ts';
import { localOssClientOptions } from './oss/client-options.ts';
import type { FaultConfig, LocalOss, OssServerOptions } from './oss/index.ts';

export class ServerProcessError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ServerProcess', message, options);
  }
}

export interface ServerProcessOptions {
  /** Extra node flags for the child (e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/p']). */
  execArgv?: string[];
}

interface Ready {
  event: 'ready';
  [k: string]: unknown;
}

async function startChild(kind: 'oss' | 'http-source', options: unknown, po: ServerProcessOptions): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(process.execPath, [...(po.execArgv ?? []), new URL(import.meta.url).pathname, kind, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new ServerProcessError(`local ${kind} process exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('error', (err) => reject(new ServerProcessError(`local ${kind} process failed to start: ${err.message}`, { cause: err })));
    lines.once('line', (line) => {
      child.off('exit', onExit);
      try {
        resolve(JSON.parse(line) as Ready);
      } catch (err) {
        reject(new ServerProcessError(`local ${kind} process printed ${JSON.stringify(line.slice(0, 200))}`, { cause: err }));
      }
    });
  });
  return { child, ready };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  // Graceful: the child closes its server and exits 0 (so --cpu-prof profiles get written).
  child.stdin?.end(JSON.stringify({ op: 'close' }) + '\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

/** The local OSS in its own process; same options and LocalOss surface as startOssServer(). */
export async function startOssServerProcess(options: OssServerOptions, po: ServerProcessOptions = {}): Promise<LocalOss> {
  if (options.logger) throw new ServerProcessError('a logger cannot be passed to a server process');
  const { child, ready } = await startChild('oss', options, po);
  const r = ready as unknown as { endpoint: string; port: number; host: string; region: string; accessKeyId: string; accessKeySecret: string; dataDir: string; adminEndpoint: string; adminToken: string };
  return {
    endpoint: r.endpoint,
    port: r.port,
    host: r.host,
    region: r.region,
    accessKeyId: r.accessKeyId,
    accessKeySecret: r.accessKeySecret,
    dataDir: r.dataDir,
    admin: { endpoint: r.adminEndpoint, token: r.adminToken },
    clientOptions: (bucket, opts) => localOssClientOptions(r, bucket, opts),
    setFaults(f: FaultConfig) {
      child.stdin?.write(JSON.stringify({ op: 'setFaults', faults: f }) + '\n');
    },
    onceBefore: () => {
      throw new ServerProcessError('onceBefore is not available when the local OSS runs in a separate process');
    },
    close: () => stopChild(child),
  };
}

/** The local HTTP source (files from `root`) in its own process. In-memory files and counters stay in-process only. */
export async function startHttpSourceProcess(options: { root: string } & HttpSourceShaping, po: ServerProcessOptions = {}): Promise<HttpSourceServer> {
  const { child, ready } = await startChild('http-source', options, po);
  const origin = String(ready.origin);
  const unsupported = (what: string): never => {
    throw new ServerProcessError(`${what} is not available when the HTTP source runs in a separate process`);
  };
  return {
    origin,
    port: Number(ready.port),
    url: (p: string) => `${origin}${p.startsWith('/') ? p : `/${p}`}`,
    setFile: () => unsupported('setFile'),
    mutateFile: () => unsupported('mutateFile'),
    deleteFile: () => unsupported('deleteFile'),
    etagOf: () => unsupported('etagOf'),
    setFaults: () => unsupported('setFaults'),
    get connections(): number {
      return unsupported('connections');
    },
    get requests(): never {
      return unsupported('requests');
    },
    close: () => stopChild(child),
  };
}

async function childMain(kind: string, json: string): Promise<void> {
  let close: () => Promise<void>;
  let setFaults: ((f: FaultConfig) => void) | undefined;
  if (kind === 'oss') {
    const { startOssServer } = await import('./oss/index.ts');
    const o = JSON.parse(json) as OssServerOptions;
    const oss = await startOssServer(o);
    close = () => oss.close();
    setFaults = (f) => oss.setFaults(f);
    process.stdout.write(JSON.stringify({ event: 'ready', endpoint: oss.endpoint, port: oss.port, host: oss.host, region: oss.region, accessKeyId: oss.accessKeyId, accessKeySecret: oss.accessKeySecret, dataDir: oss.dataDir, adminEndpoint: oss.admin.endpoint, adminToken: oss.admin.token }) + '\n');
  } else if (kind === 'http-source') {
    const { startHttpSourceServer } = await import('./http-source/index.ts');
    const src = await startHttpSourceServer(JSON.parse(json) as { root: string } & HttpSourceShaping);
    close = () => src.close();
    process.stdout.write(JSON.stringify({ event: 'ready', origin: src.origin, port: src.port }) + '\n');
  } else {
    throw new ServerProcessError(`unknown server kind ${kind}`);
  }
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    void close().finally(() => process.exit(0));
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const msg = JSON.parse(line) as { op: string; faults?: FaultConfig };
    if (msg.op === 'setFaults' && msg.faults) setFaults?.(msg.faults);
    else if (msg.op === 'close') stop();
  });
  // Parent gone (stdin closed) or signalled: shut down too.
  lines.on('close', stop);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  childMain(process.argv[2] ?? '', process.argv[3] ?? '{}').catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
