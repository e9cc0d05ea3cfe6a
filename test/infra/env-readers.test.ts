/**
 * Every variable the env builder writes (for the stack and the local cloud alike) is read by the code of the
 * role it is written for: a variable no function reads is a setting that silently does nothing. Readers are
 * found in the source as `FUNCTION_ENV.<NAME>` or the literal variable name.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionEnvironment } from '../../infra/env.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { buildFunctionEnv, type FunctionEnvSpec, type FunctionRole } from '../../shared/function-env-build.ts';
import { baseValues, configOf } from './harness.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Where the names are defined and written: not readers. */
const WRITERS = new Set(['shared/function-env.ts', 'shared/function-env-build.ts']);

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((f) => {
    const rel = `${dir}/${f}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) return f === 'image' ? [] : tsFiles(rel);
    return rel.endsWith('.ts') && !WRITERS.has(rel) ? [rel] : [];
  });
}

/** The code each role's instance runs: the entry point, its own directory, and everything it shares. */
const ROLE_CODE: Record<FunctionRole, string[]> = {
  coordinator: [...tsFiles('functions').filter((f) => !f.startsWith('functions/worker/')), ...tsFiles('shared')],
  worker: [
    ...tsFiles('functions').filter((f) => !/^functions\/(coordinator|archive|status)\//.test(f)),
    ...tsFiles('shared'),
  ],
};

const keyOf = (value: string) => Object.entries(FUNCTION_ENV).find(([, v]) => v === value)?.[0];

function readers(role: FunctionRole, variable: string): string[] {
  const key = keyOf(variable);
  const byKey = key ? [`FUNCTION_ENV.${key}]`, `FUNCTION_ENV.${key})`, `FUNCTION_ENV.${key},`] : [];
  return ROLE_CODE[role].filter((f) => {
    const src = readFileSync(path.join(ROOT, f), 'utf8');
    return [...byKey, `'${variable}'`, `env.${variable}`].some((needle) => src.includes(needle));
  });
}

/** Variables of `env` that no code of `role` reads. */
const unreadBy = (env: Record<string, string>, role: FunctionRole) => Object.keys(env).filter((v) => readers(role, v).length === 0);

/** A spec that sets everything the builder can write. */
const FULL: FunctionEnvSpec = {
  serviceName: 's',
  workerFunction: 'w',
  accountId: '1',
  region: 'cn-hangzhou',
  statusLocation: 'oss://b/p/',
  maxWorkers: 4,
  workerTimeoutSeconds: 600,
  allowedSourceHosts: ['127.0.0.1'],
  allowedOssEndpoints: ['oss.corp.example'],
  logLevel: 'info',
  transfer: { partSizeBytes: 1 << 26, streamsPerWorker: 8, gzipLevel: 1 },
  archiveRules: [{ name: 'r' }],
  sftpHostKeys: { 'h:22': 'SHA256:x' },
  sftpPrivateKey: 'k',
  endpoints: { fc: 'http://127.0.0.1:1', oss: 'http://127.0.0.1:2' },
};

describe('function environment readers', () => {
  for (const role of ['coordinator', 'worker'] as const) {
    it(`every variable written for the ${role} is read by ${role} code`, () => {
      // Prepare
      const env = buildFunctionEnv(FULL, role);
      // Act
      const unread = unreadBy(env, role);
      // Assess
      expect(Object.keys(env).length).toBeGreaterThan(4);
      expect(unread).toEqual([]);
    });
  }

  it('the stack writes nothing the full builder does not (one builder for infra and the local cloud)', () => {
    // Prepare
    const c = configOf({ ...baseValues(), archiveRules: [{ name: 'r', sourceBucket: 'a-in', destinationBucket: 'a-out' }] });
    for (const role of ['coordinator', 'worker'] as const) {
      // Act
      const infraKeys = Object.keys(functionEnvironment(c, role));
      // Assess
      for (const k of infraKeys) expect(Object.keys(buildFunctionEnv(FULL, role))).toContain(k);
    }
  });

  it('fails on a variable no code reads, or one written for a role whose code does not read it', () => {
    // Prepare
    const env = { ...buildFunctionEnv(FULL, 'worker'), OSSFERRY_NOT_READ_ANYWHERE: 'x', [FUNCTION_ENV.STATUS_LOCATION]: 'oss://b/p/' };
    // Act
    const unread = unreadBy(env, 'worker');
    // Assess
    expect(unread.sort()).toEqual(['OSSFERRY_NOT_READ_ANYWHERE', FUNCTION_ENV.STATUS_LOCATION].sort());
  });
});
