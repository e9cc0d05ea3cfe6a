import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { freePort } from '../../../local/fc/instances.ts';

const REPO = new URL('../../../', import.meta.url).pathname;

function runMain(env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
    const child = spawn(process.execPath, ['functions/main.ts'], { cwd: REPO, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    });
  });
}

describe('functions/main.ts role selection', () => {
  it('exits with an error naming OSSFERRY_ROLE when the role is unknown', async () => {
    // Prepare
    const env = { OSSFERRY_ROLE: 'janitor', FC_SERVER_PORT: '0', FC_SERVER_HOST: '127.0.0.1' };
    // Act
    const { code, stderr } = await runMain(env);
    // Assess
    expect(code).toBe(1);
    const line = JSON.parse(stderr.trim().split('\n').at(-1)!) as { error: { name: string; message: string } };
    expect(line.error.name).toBe('InvalidInputError');
    expect(line.error.message).toContain('OSSFERRY_ROLE: is "janitor", not a known role');
    expect(line.error.message).toContain('OSSFERRY_ROLE=coordinator or OSSFERRY_ROLE=worker');
  });

  it('exits with an error naming OSSFERRY_ROLE when the role is missing', async () => {
    // Prepare
    const env = { OSSFERRY_ROLE: undefined, FC_SERVER_PORT: '0', FC_SERVER_HOST: '127.0.0.1' };
    // Act
    const { code, stderr } = await runMain(env);
    // Assess
    expect(code).toBe(1);
    expect(stderr).toContain('OSSFERRY_ROLE: is not set');
  });

  it('serves the runtime for a valid role and exits 0 on SIGTERM', async () => {
    // Prepare
    const port = await freePort();
    const child = spawn(process.execPath, ['functions/main.ts'], {
      cwd: REPO,
      env: { ...process.env, OSSFERRY_ROLE: 'worker', FC_SERVER_PORT: String(port), FC_SERVER_HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let freeze: Response | undefined;
      for (let i = 0; i < 400 && freeze === undefined; i++) {
        freeze = await fetch(`http://127.0.0.1:${port}/pre-freeze`).catch(() => undefined);
        if (freeze === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      // Act
      child.kill('SIGTERM');
      const code = await exited;
      // Assess
      expect(freeze?.status).toBe(200);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
