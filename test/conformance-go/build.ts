/**
 * Builds the Go conformance client (./main.go) against the Debian-packaged Alibaba Cloud OSS Go SDK
 * (golang-github-aliyun-aliyun-oss-go-sdk-dev, GOPATH mode: /usr/share/gocode, GO111MODULE=off). A Go build costs
 * CPU, so the binary is cached under the temp dir (or OSSFERRY_GO_CACHE), keyed by a hash of main.go, the SDK
 * sources and `go version`: repeated runs reuse it, any change rebuilds.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = path.dirname(new URL(import.meta.url).pathname);
export const GOPATH = '/usr/share/gocode';
export const GO_SDK_DIR = path.join(GOPATH, 'src/github.com/aliyun/aliyun-oss-go-sdk/oss');
const FIX = 'install the Debian packages golang-go and golang-github-aliyun-aliyun-oss-go-sdk-dev (bash scripts/system-deps.sh)';

async function sourceHash(goVersion: string): Promise<string> {
  const h = createHash('sha256').update(goVersion).update(await readFile(path.join(HERE, 'main.go')));
  for (const f of (await readdir(GO_SDK_DIR)).filter((n) => n.endsWith('.go') && !n.endsWith('_test.go')).sort()) {
    h.update(f).update(await readFile(path.join(GO_SDK_DIR, f)));
  }
  return h.digest('hex').slice(0, 24);
}

/** Path of the built client; builds it only when no binary for these sources is cached. */
export async function buildGoConformance(): Promise<string> {
  const goVersion = await run('go', ['version']).then(
    (r) => r.stdout.trim(),
    (e: Error) => {
      throw new Error(`the go command is not available (${e.message}): ${FIX}`);
    },
  );
  if (!existsSync(GO_SDK_DIR)) throw new Error(`the OSS Go SDK is not installed at ${GO_SDK_DIR}: ${FIX}`);
  const cache = process.env.OSSFERRY_GO_CACHE ?? path.join(os.tmpdir(), 'ossferry-go-conformance');
  const bin = path.join(cache, 'bin', await sourceHash(goVersion), 'conformance');
  if (existsSync(bin)) return bin;
  await mkdir(path.dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const env = { ...process.env, GOPATH, GO111MODULE: 'off', GOCACHE: path.join(cache, 'gocache'), GOFLAGS: '', CGO_ENABLED: '0' };
  await run('go', ['build', '-o', tmp, 'main.go'], { cwd: HERE, env }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`go build of test/conformance-go failed: ${e.stderr ?? e.message}`);
  });
  // Rename: a concurrent run sees either no binary or a whole one.
  await rename(tmp, bin);
  return bin;
}
