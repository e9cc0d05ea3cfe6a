/**
 * The test hook that holds a coordinator at a lifecycle step (functions/engine/crash.ts): only with
 * OSSFERRY_TEST_HOOKS=1; only the named step; the first instance claims it (renames the file to
 * `.reached`), later ones run through; the hold ends when the test deletes `.reached` or the run's signal aborts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashHookFromEnv } from '../../functions/engine/crash.ts';

describe('hold hook', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-hold-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is off without OSSFERRY_TEST_HOOKS=1', () => {
    // Act
    const hook = crashHookFromEnv({ OSSFERRY_TEST_HOLD_FILE: path.join(dir, 'x') });
    // Assess
    expect(hook).toBeUndefined();
  });

  it('holds the first run reaching the named step until .reached is deleted; other steps and later runs pass', async () => {
    // Prepare
    const file = path.join(dir, 'hold-a');
    await writeFile(file, 'midDispatch');
    const hook = crashHookFromEnv({ OSSFERRY_TEST_HOOKS: '1', OSSFERRY_TEST_HOLD_FILE: file })!;
    // Act
    const other = hook('afterLease');
    const held = hook('midDispatch');
    const second = hook('midDispatch');
    let released = false;
    void Promise.resolve(held).then(() => (released = true));
    await new Promise((r) => setTimeout(r, 120));
    const stillHeld = !released;
    await unlink(`${file}.reached`);
    await held;
    // Assess
    expect(other).toBeUndefined();
    expect(second).toBeUndefined();
    expect(held).toBeInstanceOf(Promise);
    expect(stillHeld).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it('a hold ends when the run is aborted (e.g. cancelled), with .reached left for the test to see', async () => {
    // Prepare
    const file = path.join(dir, 'hold-b');
    await writeFile(file, 'midDispatch');
    const hook = crashHookFromEnv({ OSSFERRY_TEST_HOOKS: '1', OSSFERRY_TEST_HOLD_FILE: file })!;
    const ctl = new AbortController();
    // Act
    const held = hook('midDispatch', ctl.signal);
    setTimeout(() => ctl.abort(), 50);
    await held;
    // Assess
    expect(existsSync(`${file}.reached`)).toBe(true);
  });
});
