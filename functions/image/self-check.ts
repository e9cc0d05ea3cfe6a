/**
 * Image self-check (issue 7), run by the Dockerfile's last stage so that a broken image fails the *build*,
 * not production:
 *   1. the ISA-L addon loads from OSSFERRY_NATIVE_PATH and passes the CRC-64 check vectors (loader.ts),
 *      with no JS fallback allowed, whatever the environment says;
 *   2. its CRC probe is not slow: at least OSSFERRY_SELFCHECK_MIN_MBPS (default SLOW_CRC_MBPS, 2000 MB/s) —
 *      ISA-L silently drops to a ~455 MB/s table when CPUID hides PCLMULQDQ;
 *   3. ISA-L gzip produces a member that Node's zlib decodes back to the input;
 *   4. the OpenSSH client the SFTP source runs is there and new enough (≥ 8.5, KnownHostsCommand) — without it
 *      SFTP would silently fall back to the ~0.7× slower in-process ssh2 transport.
 * Prints one JSON line and exits 0, or prints the reason and exits 1.
 */
import { gunzipSync } from 'node:zlib';
import { loadCrc64Backend, SLOW_CRC_MBPS } from '../../shared/crc64/index.ts';
import { createLogger } from '../../shared/log.ts';
import { findOpenssh } from '../sources/sftp/openssh-transport.ts';

function fail(message: string): never {
  process.stderr.write(`[self-check] FAILED: ${message}\n`);
  process.exit(1);
}

const minMBps = Number(process.env.OSSFERRY_SELFCHECK_MIN_MBPS ?? SLOW_CRC_MBPS);
const t0 = performance.now();
let backend;
try {
  backend = loadCrc64Backend({ allowSlow: false, logger: createLogger({ component: 'self-check' }) });
} catch (err) {
  fail((err as Error).message);
}
if (backend.implementation !== 'isal' || backend.addon === undefined) fail(`CRC-64 backend is ${backend.implementation}, not isal`);
// The loader probes once; a busy build host can stall one probe, so re-measure before calling it slow.
let mbps = backend.probeMBps;
const buf = new Uint8Array(8 << 20).fill(0x5a);
for (let i = 0; i < 5 && mbps < minMBps; i++) {
  const s = process.hrtime.bigint();
  backend.crc64(buf, 0n);
  mbps = Math.max(mbps, Math.round((buf.length / Math.max(Number(process.hrtime.bigint() - s), 1)) * 1000));
}
if (!(mbps >= minMBps)) {
  fail(`CRC-64 probe ${mbps} MB/s is below ${minMBps} MB/s (cpu ${JSON.stringify(backend.cpu)}): CPUID may hide PCLMULQDQ`);
}
const text = Buffer.from('ossferry image self-check '.repeat(4096));
const member = backend.addon.gzip(text, 1);
if (!gunzipSync(member).equals(text)) fail('ISA-L gzip member does not decode back to its input with Node zlib');
const openssh = await findOpenssh(process.env.OSSFERRY_SSH_PATH ?? 'ssh');
if (!openssh) fail('no OpenSSH client >= 8.5 on PATH (install openssh-client): SFTP sources would run on the slower ssh2 transport');

console.log(
  JSON.stringify({
    selfCheck: 'ok',
    node: process.version,
    nativePath: backend.nativePath,
    implementation: backend.implementation,
    crcProbeMBps: mbps,
    minMBps,
    cpu: backend.cpu,
    gzipRatio: Number((member.length / text.length).toFixed(4)),
    openssh: openssh.version,
    ms: Math.round(performance.now() - t0),
  }),
);
