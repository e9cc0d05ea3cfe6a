import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertFastCrc, Crc64Error, loadCrc64Backend, warnIfSlowBackend } from '../../shared/crc64/index.ts';
import { createLogger } from '../../shared/log.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const missing = path.join(root, 'functions/native/build/Release/does-not-exist.node');

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger({}, { sink: (l) => lines.push(JSON.parse(l)), level: 'debug' }) };
}

/** Runs a snippet in a child Node 24 (process.execPath) with a chosen environment. */
function child(code: string, env: Record<string, string>) {
  const { OSSFERRY_ALLOW_SLOW_CRC: _a, OSSFERRY_NATIVE_PATH: _b, ...base } = process.env;
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    env: { ...base, ...env },
    encoding: 'utf8',
  });
}

describe('loader refusal path', () => {
  it('throws Crc64Error with the build command and Debian packages when the addon is missing', () => {
    // Prepare
    const { logger } = capture();
    // Act
    const call = () => loadCrc64Backend({ nativePath: missing, allowSlow: false, logger });
    // Assess
    expect(call).toThrow(Crc64Error);
    expect(call).toThrow(/npm run build:native/);
    expect(call).toThrow(/libisal-dev/);
    expect(call).toThrow(/libisal2/);
    expect(call).toThrow(/OSSFERRY_ALLOW_SLOW_CRC=1/);
  });

  it('selects the pure-JS fallback only when allowed, and warns loudly', () => {
    // Prepare
    const { lines, logger } = capture();
    // Act
    const b = loadCrc64Backend({ nativePath: missing, allowSlow: true, logger });
    // Assess
    expect(b.implementation).toBe('js');
    expect(b.addon).toBeUndefined();
    expect(b.crc64(new TextEncoder().encode('123456789'), 0n)).toBe(11051210869376104954n);
    expect(lines.some((l) => l.level === 'warn' && /SLOW/.test(String(l.msg)))).toBe(true);
  });

  it('loads ISA-L from an explicit path and logs the probe and CPU features', () => {
    // Prepare
    const { lines, logger } = capture();
    // Act
    const b = loadCrc64Backend({ nativePath: path.join(root, 'functions/native/build/Release/ossferry_native.node'), logger });
    // Assess
    expect(b.implementation).toBe('isal');
    const info = lines.find((l) => l.implementation === 'isal');
    expect(info?.probeMBps).toEqual(expect.any(Number));
    expect(info?.cpu).toEqual(expect.any(Object));
  });

  it('a process with OSSFERRY_NATIVE_PATH at a missing file refuses on first use', () => {
    // Prepare
    const code = `import { crc64 } from './shared/crc64/index.ts';
      try { crc64(new Uint8Array(1)); console.log('NO-THROW'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
    // Act
    const r = child(code, { OSSFERRY_NATIVE_PATH: missing });
    // Assess
    expect(r.stdout).toMatch(/Crc64Error: .*is missing.*npm run build:native.*libisal-dev/);
    expect(r.stdout).not.toMatch(/NO-THROW/);
  });

  it('with OSSFERRY_ALLOW_SLOW_CRC=1 the same process runs on JS + zlib (members and stream) and warns on every job', () => {
    // Prepare
    const code = `import { crc64, crc64Info, warnIfSlowCrc } from './shared/crc64/index.ts';
      import { gzipMember, createGzipMemberStream } from './shared/gzip/index.ts';
      import { Readable } from 'node:stream';
      import { pipeline } from 'node:stream/promises';
      import { createLogger } from './shared/log.ts';
      import zlib from 'node:zlib';
      const c = crc64(new TextEncoder().encode('123456789'));
      const data = Buffer.from('abc'.repeat(1000));
      const ok = zlib.gunzipSync(gzipMember(data, 1)).equals(data);
      const members = [];
      const gz = createGzipMemberStream({ memberSize: 1000, level: 3 });
      gz.on('data', (m) => members.push(m));
      await pipeline(Readable.from([data]), gz);
      const streamOk = members.length === 3 && zlib.gunzipSync(Buffer.concat(members)).equals(data);
      warnIfSlowCrc(createLogger({ jobId: 'j1' }));
      warnIfSlowCrc(createLogger({ jobId: 'j2' }));
      console.log(JSON.stringify({ c: c.toString(), impl: crc64Info().implementation, ok, streamOk }));`;
    // Act
    const r = child(code, { OSSFERRY_NATIVE_PATH: missing, OSSFERRY_ALLOW_SLOW_CRC: '1' });
    // Assess
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toEqual({ c: '11051210869376104954', impl: 'js', ok: true, streamOk: true });
    const jobWarns = lines.filter((l) => l.level === 'warn' && typeof l.jobId === 'string');
    expect(jobWarns.map((l) => l.jobId)).toEqual(['j1', 'j2']);
    expect(String(jobWarns[0]?.msg)).toMatch(/SLOW CRC-64/);
  });

  it('OSSFERRY_ALLOW_SLOW_CRC=1 does not shadow a working addon', () => {
    // Prepare
    const code = `import { crc64Info } from './shared/crc64/index.ts'; console.log('IMPL=' + crc64Info().implementation);`;
    // Act
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: root,
      env: { ...process.env, OSSFERRY_ALLOW_SLOW_CRC: '1', OSSFERRY_LOG_LEVEL: 'error' },
      encoding: 'utf8',
    });
    // Assess
    expect(out).toMatch(/IMPL=isal/);
  });
});

describe('assertFastCrc', () => {
  it('passes on this build with the default threshold and fails on an impossible one', () => {
    // Prepare / Act
    const info = assertFastCrc(0);
    // Assess
    expect(info.implementation).toBe('isal');
    expect(() => assertFastCrc(Number.MAX_SAFE_INTEGER)).toThrow(Crc64Error);
    expect(() => assertFastCrc(-1)).toThrow(/minMBps/);
  });

  it('fails in a process running on the JS fallback', () => {
    // Prepare
    const code = `import { assertFastCrc } from './shared/crc64/index.ts';
      try { assertFastCrc(0); console.log('NO-THROW'); } catch (e) { console.log('THREW ' + e.name + ': ' + e.message); }`;
    // Act
    const r = child(code, { OSSFERRY_NATIVE_PATH: missing, OSSFERRY_ALLOW_SLOW_CRC: '1', OSSFERRY_LOG_LEVEL: 'error' });
    // Assess
    expect(r.stdout).toMatch(/THREW Crc64Error: .*pure-JS fallback/);
  });
});

describe('warnIfSlowBackend', () => {
  const native = () => loadCrc64Backend({ logger: capture().logger });

  it('warns when the native probe is below the threshold (CPUID hiding PCLMULQDQ)', () => {
    // Prepare
    const { lines, logger } = capture();
    const slow = { ...native(), probeMBps: 455 };
    // Act
    warnIfSlowBackend(slow, logger);
    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', probeMBps: 455, implementation: 'isal' });
    expect(String(lines[0]?.msg)).toMatch(/SLOW CRC-64/);
  });

  it('stays quiet (debug only) on a fast native backend', () => {
    // Prepare
    const { lines, logger } = capture();
    const fast = { ...native(), probeMBps: 20_000 };
    // Act
    warnIfSlowBackend(fast, logger);
    // Assess
    expect(lines.map((l) => l.level)).toEqual(['debug']);
  });
});
