/**
 * Where function instances come from: child processes running the runtime entrypoint (default), or
 * already-running runtimes given by base URL (containers started by the image test). The pool
 * (local/fc/pool.ts) only sees `InstanceProvider`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { OssferryError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { RUNTIME_HOST_ENV } from '../../functions/runtime/server.ts';
import type { InstanceOutputMeta } from './types.ts';

export interface Instance {
  readonly id: string;
  /** http://host:port of the runtime. */
  readonly baseUrl: string;
  /** Spawn (or first contact) → accepting TCP connections. */
  readonly startToReadyMs: number;
  /** Whether the gateway may stop it (process) or only stop using it (external). */
  readonly stoppable: boolean;
  /** Resolves when the instance has gone away (process exit); never for external instances. */
  readonly exited: Promise<void>;
  /** Pre-stop, then terminate (process); release (external). */
  stop(): Promise<void>;
}

export interface InstanceProvider {
  /** Most instances this provider can supply (external: the number of URLs). */
  readonly capacity: number;
  start(id: string): Promise<Instance>;
}

/** An instance did not start: exited early, or did not accept connections in time. */
export class InstanceStartError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FunctionNotStarted', message, options);
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Polls a TCP connect until it succeeds, the deadline passes, or `gone` settles first. */
async function waitForPort(host: string, port: number, deadlineMs: number, gone: { done: boolean }): Promise<void> {
  let delay = 5;
  while (!gone.done) {
    if (await tryConnect(host, port)) return;
    if (Date.now() > deadlineMs) throw new InstanceStartError(`nothing listening on ${host}:${port} in time`);
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

export interface ProcessProviderOptions {
  command: string;
  args: string[];
  cwd?: string;
  env: Record<string, string>;
  startTimeoutMs: number;
  functionName: string;
  onOutput: (line: string, meta: InstanceOutputMeta) => void;
  /** The function's pre-stop timeout; undefined: no pre-stop hook configured, none is called. */
  preStopTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Last line of defence against leaked children if the gateway's owner exits without close(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** GET /pre-stop or /pre-freeze, bounded by the hook's timeout; a failing hook does not stop the lifecycle. */
export async function callLifecycleHook(baseUrl: string, hook: 'pre-stop' | 'pre-freeze', timeoutMs: number): Promise<void> {
  await fetch(`${baseUrl}/${hook}`, { signal: AbortSignal.timeout(timeoutMs) })
    .then((r) => r.arrayBuffer())
    .catch(() => undefined);
}

export function processProvider(o: ProcessProviderOptions): InstanceProvider {
  installExitHook();
  return {
    capacity: Number.POSITIVE_INFINITY,
    async start(id) {
      const host = '127.0.0.1';
      const port = await freePort(host);
      const spawnedAt = performance.now();
      const child = spawn(o.command, o.args, {
        cwd: o.cwd,
        env: { ...process.env, ...o.env, [FUNCTION_ENV.PORT]: String(port), [RUNTIME_HOST_ENV]: host },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      live.add(child);
      const tail: string[] = [];
      const gone = { done: false };
      let exitInfo = '';
      const exited = new Promise<void>((resolve) => {
        // 'close' (not 'exit'): fires once stdout/stderr are drained, so every line is forwarded first.
        child.once('close', (code, signal) => {
          gone.done = true;
          live.delete(child);
          exitInfo = signal ?? `code ${code}`;
          resolve();
        });
        child.once('error', (err) => {
          gone.done = true;
          live.delete(child);
          exitInfo = `spawn error: ${err.message}`;
          resolve();
        });
      });
      for (const stream of ['stdout', 'stderr'] as const) {
        const rl = createInterface({ input: child[stream] });
        rl.on('line', (line) => {
          tail.push(line);
          if (tail.length > 20) tail.shift();
          o.onOutput(line, { function: o.functionName, instanceId: id, stream });
        });
      }
      try {
        await waitForPort(host, port, Date.now() + o.startTimeoutMs, gone);
        if (gone.done) throw new InstanceStartError(`instance exited before listening (${exitInfo})`);
      } catch (err) {
        if (!gone.done) child.kill('SIGKILL');
        await exited;
        const detail = tail.slice(-5).join('\n');
        throw new InstanceStartError(
          `instance ${id} of ${o.functionName} did not start: ${(err as Error).message}${detail ? `\n${detail}` : ''}`,
          { cause: err },
        );
      }
      const baseUrl = `http://${host}:${port}`;
      return {
        id,
        baseUrl,
        startToReadyMs: performance.now() - spawnedAt,
        stoppable: true,
        exited,
        async stop() {
          if (gone.done) return;
          // FC calls GET /pre-stop before reclaiming an instance, only when the function configures the hook.
          if (o.preStopTimeoutMs !== undefined) await callLifecycleHook(baseUrl, 'pre-stop', o.preStopTimeoutMs);
          if (!gone.done) child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(killer);
        },
      };
    },
  };
}

export function externalProvider(urls: string[], startTimeoutMs: number): InstanceProvider {
  const free = urls.map((u) => u.replace(/\/+$/, ''));
  return {
    capacity: free.length,
    async start(id) {
      const baseUrl = free.shift();
      if (baseUrl === undefined) throw new InstanceStartError('no external instance URL left');
      const startedAt = performance.now();
      const u = new URL(baseUrl);
      try {
        await waitForPort(u.hostname, Number(u.port || 80), Date.now() + startTimeoutMs, { done: false });
      } catch (err) {
        free.push(baseUrl);
        throw new InstanceStartError(`external instance ${baseUrl} is not reachable`, { cause: err });
      }
      return {
        id,
        baseUrl,
        startToReadyMs: performance.now() - startedAt,
        stoppable: false,
        exited: new Promise<void>(() => {}),
        // Not ours to stop (and /pre-stop would abort it for good): hand the URL back.
        async stop() {
          free.push(baseUrl);
        },
      };
    },
  };
}
