#!/usr/bin/env node
// Builds ssh2's optional native crypto binding (AES-GCM / ChaCha20 decipher) for the Node that runs the
// project. Why: ssh2's own install step compiles it against whatever headers npm is configured with (a
// system Node's), and a binding built for another Node ABI does not load, so ssh2 silently falls back to
// its JavaScript decipher. The SFTP reader then spends about twice OpenSSH's CPU per byte (docs/sftp.md).
// Headers come from, in order: the running Node's own tree, the `node` devDependency's platform package,
// a system Node of the same version, or that platform package fetched from the npm registry. Never fatal:
// without the binding SFTP works, only slower, and the message says how to retry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const log = (s) => console.log(`[ossferry] ${s}`);

let cryptoDir;
try {
  cryptoDir = path.join(path.dirname(require.resolve('ssh2/package.json')), 'lib/protocol/crypto');
} catch {
  process.exit(0); // ssh2 not installed (yet): nothing to build.
}
const bindingFile = path.join(cryptoDir, 'build/Release/sshcrypto.node');

function loads() {
  const r = spawnSync(process.execPath, ['-e', 'const b = require(process.argv[1]); if (!b.AESGCMDecipher) process.exit(1);', bindingFile], { stdio: 'ignore' });
  return r.status === 0;
}

if (existsSync(bindingFile) && loads()) {
  log(`ssh2 native crypto binding OK for Node ${process.version}`);
  process.exit(0);
}

/** A directory with include/node/node_version.h of exactly the running version, usable as node-gyp's --nodedir. */
function headersOf(dir) {
  const h = path.join(dir, 'include/node/node_version.h');
  if (!existsSync(h)) return undefined;
  const text = readFileSync(h, 'utf8');
  const v = ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(text)?.[1]).join('.');
  return `v${v}` === process.version ? dir : undefined;
}

const candidates = [
  path.resolve(path.dirname(realpathSync(process.execPath)), '..'),
  path.join(root, 'node_modules/node/node_modules', `node-${process.platform}-${process.arch}`),
  '/usr',
  '/usr/local',
];
let nodedir = candidates.map(headersOf).find(Boolean);
let tmp;
if (!nodedir) {
  // The platform package of the `node` devDependency carries the headers; fetch only that from the registry.
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ossferry-node-headers-'));
  const spec = `node-${process.platform}-${process.arch}@${process.version.slice(1)}`;
  const npmCli = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js');
  const npm = existsSync(npmCli) ? [process.execPath, [npmCli]] : ['npm', []];
  const packed = spawnSync(npm[0], [...npm[1], 'pack', spec, '--silent', '--pack-destination', tmp], { encoding: 'utf8', cwd: tmp });
  const tgz = packed.status === 0 ? path.join(tmp, packed.stdout.trim().split('\n').pop()) : undefined;
  if (tgz && spawnSync('tar', ['-xzf', tgz, '-C', tmp, 'package/include/node'], { stdio: 'ignore' }).status === 0) {
    nodedir = headersOf(path.join(tmp, 'package'));
  }
}
if (!nodedir) {
  log(`WARNING: no Node ${process.version} headers found; ssh2 uses its JavaScript decipher (SFTP about 2× the CPU). Retry: npm run build:native`);
  process.exit(0);
}

const gyp = path.join(root, 'node_modules/node-gyp/bin/node-gyp.js');
const built = spawnSync(
  process.execPath,
  [gyp, 'rebuild', `--nodedir=${nodedir}`, `--real_openssl_major=${/^\d+/.exec(process.versions.openssl)[0]}`, '--loglevel=warn'],
  { cwd: cryptoDir, stdio: 'inherit' },
);
if (tmp) rmSync(tmp, { recursive: true, force: true });
if (built.status === 0 && loads()) log(`ssh2 native crypto binding built for Node ${process.version}`);
else log('WARNING: ssh2 native crypto binding did not build; SFTP falls back to JavaScript decryption. Retry: npm run build:native');
