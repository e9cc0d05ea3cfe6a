/**
 * Runs the `ossferry` bin as a user does: a child process (Node 24 type stripping) with the repo as cwd,
 * stdout and stderr collected, resolved with the exit code.
 */
import { spawn } from 'node:child_process';

const REPO = new URL('../../', import.meta.url).pathname;

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ossferry …args`; `cwd` defaults to the repo (relative paths in args resolve against it). */
export function ossferry(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${REPO}cli/ossferry.ts`, ...args], { cwd: cwd ?? REPO, env: { ...process.env, OSSFERRY_VERBOSE: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The JSON lines of a command's stdout. */
export const jsonLines = (s: string): Array<Record<string, unknown>> =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
