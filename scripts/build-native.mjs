#!/usr/bin/env node
// Builds the ISA-L N-API addon (functions/native) during `npm install`.
// Why a wrapper instead of npm's implicit `node-gyp rebuild`: a missing libisal-dev must not
// hide behind a wall of compiler output. We say exactly which Debian package is missing, and
// on a fresh Debian machine where we run as root we install it (the project installs what it
// needs; see README "Quick start"). Set OSSFERRY_NO_APT=1 to forbid that.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const header = '/usr/include/isa-l.h';
const force = process.argv.includes('--force');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status === 0;
}

if (!existsSync(path.join(root, 'functions/native/binding.gyp'))) {
  console.log('[ossferry] functions/native/binding.gyp not present yet; skipping native build');
  process.exit(0);
}

// The script is idempotent and only calls apt-get for packages dpkg says are missing (ISA-L for the addon, and
// xz-utils/pigz/gzip/openssh-server for the tests), so `npm install` then `npm test` work on a fresh machine.
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && !process.env.OSSFERRY_NO_APT && existsSync('/usr/bin/apt-get') && !process.argv.includes('--no-apt')) {
  run('bash', [path.join(root, 'scripts/system-deps.sh')]);
}
if (!existsSync(header)) {
  console.error(
    '\n[ossferry] WARNING: ISA-L headers (/usr/include/isa-l.h) not found; the native CRC-64/gzip addon was NOT built.\n' +
      '  Fix: apt-get install libisal-dev  (runtime: libisal2), then: npm run build:native\n' +
      '  ossferry refuses to run without it unless OSSFERRY_ALLOW_SLOW_CRC=1.\n',
  );
  process.exit(force ? 1 : 0);
}

const gyp = ['node-gyp', 'rebuild', '--directory', 'functions/native'];
const ok = run('npx', ['--no-install', ...gyp]);
if (!ok) {
  console.error('[ossferry] native addon build failed; see the compiler output above. Retry: npm run build:native');
  process.exit(force ? 1 : 0);
}

// Load what was just built (under the Node that runs npm, i.e. Node 24 from node_modules/.bin) and check the
// CRC-64/XZ check value, so a missing runtime libisal.so.2 or an ABI problem fails here, not in a job.
const check = spawnSync(
  process.execPath,
  [
    '-e',
    "const a = require(process.argv[1]); const c = a.crc64(Buffer.from('123456789'));" +
      "if (c !== 0x995dc9bbdf1939fan) { console.error('check value mismatch: ' + c); process.exit(1); }" +
      "console.log('[ossferry] native addon OK: crc64 kernel ' + a.crc64Kernel() + ', cpu ' + JSON.stringify(a.cpuInfo()));",
    path.join(root, 'functions/native/build/Release/ossferry_native.node'),
  ],
  { stdio: 'inherit', cwd: root },
);
if (check.status !== 0) {
  console.error('[ossferry] the built addon does not load or fails its check vector (runtime package: libisal2). Retry: npm run build:native');
  process.exit(force ? 1 : 0);
}
