/**
 * `npm run bench:model` as a user runs it (pure computation, no servers): a table, then a last line
 * `RESULT {json}` with the calibration errors, ossferry's prediction and the 7 s target. Figures are checked for
 * what the README states, not for speed.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;

describe('npm run bench:model', () => {
  it('prints the calibration and prediction tables and ends with RESULT {json}', () => {
    // Act
    const r = spawnSync('npm', ['run', '-s', 'bench:model'], { cwd: REPO, encoding: 'utf8', env: { ...process.env, PATH: `${REPO}node_modules/.bin:${process.env.PATH}` } });
    // Assess
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^RESULT \{/);
    const result = JSON.parse(lines.at(-1)!.slice('RESULT '.length));
    expect(result.calibration).toHaveLength(8);
    expect(result.reproduced).toBe(8);
    expect(result.notReproduced).toEqual([]);
    expect(result.fit).toMatchObject({ startupSeconds: 0, connectionRampSeconds: 4.05, isDefault: true });
    expect(result.bestUniformStartupWithoutRamp.worstError).toBeGreaterThan(0.25);
    expect(Object.keys(result.calibrationErrors)).toContain('14.68 GB@100');
    expect(result.prediction.rows.map((x: { file: string }) => x.file)).toEqual(['200 MB', '2 GB', '10.774 GB', '14.68 GB']);
    expect(result.target).toMatchObject({ file: '14.68 GB', maxSeconds: 7, floorSeconds: 5.87, predictedSeconds: 6.46, met: true });
    expect(result.prediction.config).toMatchObject({ workers: 'auto', partSize: 'auto' });
    expect(r.stdout).toMatch(/Calibration: the model with the reference's parameters/);
  });
});
