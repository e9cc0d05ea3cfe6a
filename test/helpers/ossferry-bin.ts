/**
 * The `ossferry` command as a user runs it: the package.json bin file executed directly (its shebang finds
 * `node` on PATH, here the Node running the tests), a child process per invocation, output read.
 * `runOssferry` waits for the exit; `startOssferry` is for commands that keep running (`local oss`,
 * `local cloud`): it waits for their first JSON line and stops them with a signal.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO = new URL('../../', import.meta.url).pathname;

/** The bin path package.json declares for `ossferry`. */
export const OSSFERRY_BIN = path.join(REPO, (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: { ossferry: string } }).bin.ossferry);

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnBin(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcessWithoutNullStreams {
  const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
  return spawn(OSSFERRY_BIN, args, { cwd, env: { ...process.env, OSSFERRY_VERBOSE: '0', ...env, PATH } });
}

export function runOssferry(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnBin(args, env, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

export const jsonLines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
export const lastJson = (s: string) => jsonLines(s).pop()!;

export interface RunningOssferry {
  /** The ready line parsed as JSON (`{ line }` when a non-JSON `readyLine` pattern matched it). */
  ready: Record<string, unknown>;
  child: ChildProcessWithoutNullStreams;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>;
  /** Resolves with the exit whenever it happens (signal or not). */
  exited: Promise<RunResult>;
}

/**
 * Starts a command that keeps running; resolves once it printed a line matching `readyLine` (default: a JSON
 * line), rejects if it exits first.
 */
export async function startOssferry(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO, readyLine: RegExp = /^\{/, timeoutMs = 60_000): Promise<RunningOssferry> {
  const child = spawnBin(args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ossferry ${args.join(' ')} printed no line matching ${readyLine} within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    const onData = () => {
      const line = stdout.split('\n').find((l, i, all) => readyLine.test(l) && i < all.length - 1);
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve(line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : { line });
    };
    child.stdout.on('data', onData);
    void exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`ossferry ${args.join(' ')} exited (${r.code ?? r.signal}) before printing its ready line; stderr: ${r.stderr}`));
    });
  });
  return {
    ready,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
