/**
 * Runs the function image as local containers without a Docker daemon: `buildah from` + `buildah run` with
 * chroot isolation and host networking (podman run fails on rlimits on the project's machines; buildah run
 * works). Each container runs the image's own CMD, bound to loopback on its own port, and reports:
 *   - startToReadyMs: container process start → first `POST /initialize` answered 200 (the FC readiness path),
 *     timed from a timestamp the container prints before exec'ing the CMD (same clock: host networking, no VM);
 *   - spawnToReadyMs: the same from the host's spawn of `buildah run` (includes buildah's own setup).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { lstatSync } from 'node:fs';
import path from 'node:path';

export interface ContainerOptions {
  image: string;
  /** Unique container name (buildah working container). */
  name: string;
  port: number;
  env: Record<string, string>;
  onOutput?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface RunningContainer {
  name: string;
  baseUrl: string;
  startToReadyMs: number;
  spawnToReadyMs: number;
  stop(): Promise<void>;
}

const buildahEnv = { ...process.env, STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? 'vfs' };
const START_MARK = 'OSSFERRY_CONTAINER_START_NS';

function buildah(args: string[]): string {
  const r = spawnSync('buildah', args, { env: buildahEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`buildah ${args.join(' ')} failed: ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout.trim();
}

/**
 * Which of `paths` exist in the image's root filesystem (a working container mounted read-only by buildah,
 * removed again): proves what the final image holds and lacks, rather than reading the Dockerfile.
 */
export function imagePathsPresent(image: string, paths: readonly string[], name = `ossferry-inspect-${process.pid}`): Record<string, boolean> {
  spawnSync('buildah', ['rm', name], { env: buildahEnv, stdio: 'ignore' }); // leftover of an aborted run
  buildah(['from', '--pull-never', '--name', name, image]);
  try {
    const root = buildah(['mount', name]);
    // lstat, not stat: an absolute symlink in the image (/usr/bin/cc -> /etc/alternatives/cc) must not be
    // resolved against the host's root.
    return Object.fromEntries(paths.map((p) => [p, lstatSync(path.join(root, p), { throwIfNoEntry: false }) !== undefined]));
  } finally {
    spawnSync('buildah', ['umount', name], { env: buildahEnv, stdio: 'ignore' });
    spawnSync('buildah', ['rm', name], { env: buildahEnv, stdio: 'ignore' });
  }
}

/** The image's CMD (JSON array), so the test runs exactly what FC would. */
export function imageCmd(image: string): string[] {
  const info = JSON.parse(buildah(['inspect', '--type', 'image', image])) as { OCIv1?: { config?: { Cmd?: unknown } } };
  const cmd = info.OCIv1?.config?.Cmd;
  if (!Array.isArray(cmd) || cmd.length === 0) throw new Error(`image ${image} has no CMD`);
  return cmd as string[];
}

export function postOnce(url: string, body: Buffer | string = '', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startContainer(opts: ContainerOptions): Promise<RunningContainer> {
  const cmd = imageCmd(opts.image);
  spawnSync('buildah', ['rm', opts.name], { env: buildahEnv, stdio: 'ignore' }); // leftover of an aborted run
  buildah(['from', '--pull-never', '--name', opts.name, opts.image]);
  const env = { ...opts.env, FC_SERVER_PORT: String(opts.port), FC_SERVER_HOST: '127.0.0.1' };
  const args = ['run', '--isolation', 'chroot', '--network', 'host'];
  for (const [k, v] of Object.entries(env)) args.push('--env', `${k}=${v}`);
  // Print the container-side start instant, then become the image's CMD.
  args.push(opts.name, '--', '/bin/sh', '-c', `echo ${START_MARK}=$(date +%s%N) >&2; exec "$@"`, 'sh', ...cmd);
  const spawnedNs = process.hrtime.bigint();
  const spawnedWallNs = BigInt(Date.now()) * 1_000_000n;
  const child: ChildProcess = spawn('buildah', args, { env: buildahEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let startNs: bigint | undefined;
  let exited: number | null | undefined;
  const exitedP = new Promise<void>((resolve) => child.once('exit', (code) => { exited = code; resolve(); }));
  const onLine = (line: string) => {
    const m = new RegExp(`${START_MARK}=(\\d+)`).exec(line);
    if (m?.[1] !== undefined) startNs = BigInt(m[1]);
    else if (line.trim() !== '') opts.onOutput?.(line);
  };
  for (const s of [child.stdout, child.stderr]) {
    let buf = '';
    s?.setEncoding('utf8');
    s?.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedP;
      clearTimeout(t);
    }
    spawnSync('buildah', ['rm', opts.name], { env: buildahEnv, stdio: 'ignore' });
  };
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (exited !== undefined) throw new Error(`container ${opts.name} exited with ${exited} before it was ready`);
      if (Date.now() > deadline) throw new Error(`container ${opts.name} not ready within ${opts.readyTimeoutMs ?? 30_000} ms`);
      const r = await postOnce(`${baseUrl}/initialize`, '', { 'x-fc-request-id': `ready-${opts.name}`, 'x-fc-control-path': '/initialize' }).catch(() => undefined);
      if (r?.status === 200) break;
      if (r !== undefined) throw new Error(`container ${opts.name}: /initialize answered ${r.status}: ${r.body.slice(0, 500)}`);
      await new Promise((res) => setTimeout(res, 2));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const readyNs = process.hrtime.bigint();
  const readyWallNs = spawnedWallNs + (readyNs - spawnedNs);
  return {
    name: opts.name,
    baseUrl,
    spawnToReadyMs: Number(readyNs - spawnedNs) / 1e6,
    startToReadyMs: startNs === undefined ? NaN : Number(readyWallNs - startNs) / 1e6,
    stop,
  };
}
