/**
 * `npm run soak` as a user runs it, with a few jobs (the full 200-job run is not part of npm test): the jobs go
 * through the local cloud under OSS faults and kills, and the last line is the RESULT with nothing lost, corrupt,
 * overwritten or left open. Seed 12 plans all four job kinds, a pre-existing destination and duplicate deliveries.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('npm', ['run', '-s', 'soak', '--', ...args], { cwd: REPO, env: { ...process.env, PATH: `${REPO}node_modules/.bin:${process.env.PATH}` } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run soak', () => {
  it('runs 12 mixed jobs through the broken local cloud: every job correct or cleanly failed, nothing lost, corrupt, overwritten or left open', async () => {
    // Act
    const r = await run(['--jobs', '12', '--seed', '12']);
    // Assess
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    expect(last, r.stdout + r.stderr.slice(-2000)).toMatch(/^RESULT \{/);
    const result = JSON.parse(last.slice('RESULT '.length));
    expect(Object.keys(result).slice(0, 10)).toEqual(['jobs', 'correct', 'cleanlyFailed', 'lost', 'corrupt', 'orphanedUploads', 'overwritten', 'coordinatorKills', 'workerKills', 'lostResponses']);
    expect(result).toMatchObject({ jobs: 12, lost: 0, corrupt: 0, orphanedUploads: 0, overwritten: 0 });
    expect(result.correct + result.cleanlyFailed).toBe(12);
    // The one job whose destination existed before must have failed cleanly; the others are correct.
    expect(result.cleanlyFailed).toBeGreaterThanOrEqual(1);
    expect(result.coordinatorKills + result.workerKills).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^lost responses\s+\d+$/m);
    expect(r.stderr).toMatch(/chaos: /);
    expect(r.code).toBe(0);
  }, 600_000);

  it('refuses a bad option with exit 2, naming it', async () => {
    // Act
    const r = await run(['--jobs', 'many']);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--jobs must be a whole number ≥ 1, got "many"');
  });
});
