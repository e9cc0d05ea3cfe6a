/**
 * Function environment: names from shared/function-env.ts, FC's reserved FC_* prefix avoided, 4 KB limit.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ENV_BYTES, envBytes, functionEnvironment, withinEnvLimit } from '../../infra/env.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { baseValues, configOf } from './harness.ts';

describe('functionEnvironment', () => {
  it('uses only shared names, none with the reserved FC_ prefix', () => {
    // Prepare
    const c = configOf(baseValues());
    // Act
    const envs = [functionEnvironment(c, 'coordinator'), functionEnvironment(c, 'worker')];
    // Assess
    const known = new Set<string>(Object.values(FUNCTION_ENV));
    for (const env of envs) {
      for (const k of Object.keys(env)) {
        expect(known).toContain(k);
        expect(k.startsWith('FC_')).toBe(false);
      }
      expect(envBytes(env)).toBeLessThan(MAX_ENV_BYTES);
    }
    // No rules: nothing to write (the coordinator reads an unset OSSFERRY_ARCHIVE_RULES as none).
    expect(envs[0]![FUNCTION_ENV.ARCHIVE_RULES]).toBeUndefined();
    expect(envs[1]![FUNCTION_ENV.ARCHIVE_RULES]).toBeUndefined();
  });
});

describe('withinEnvLimit', () => {
  it('passes an ed25519-sized key through unchanged', () => {
    // Prepare
    const plain = functionEnvironment(configOf(baseValues()), 'worker');
    const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${'k'.repeat(350)}\n-----END OPENSSH PRIVATE KEY-----`;
    // Act
    const out = withinEnvLimit(plain, key, 'worker');
    // Assess
    expect(out).toBe(key);
  });

  it('refuses a key that pushes the environment over 4 KB, without echoing it', () => {
    // Prepare
    const plain = functionEnvironment(configOf(baseValues()), 'coordinator');
    const key = `-----BEGIN RSA PRIVATE KEY-----\n${'s3cr3t'.repeat(600)}\n-----END RSA PRIVATE KEY-----`;
    // Act
    let err: unknown;
    try {
      withinEnvLimit(plain, key, 'coordinator');
    } catch (e) {
      err = e;
    }
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).field).toBe('ossferry:sftpPrivateKey');
    expect((err as Error).message).toMatch(/over FC's 4096-byte limit.*Fix: use an ed25519 key/);
    expect((err as Error).message).not.toContain('s3cr3t');
  });
});
