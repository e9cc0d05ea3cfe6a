/**
 * npm run bench:crc — CRC-64 and gzip throughput in one process on 256 MiB, against same-run references
 * (Buffer.copy for memory bandwidth, Node zlib L6 for compression).
 * Units: GB/s = 10^9 B/s, MB/s = 10^6 B/s of input. Best of N interleaved rounds (the host is shared and noisy).
 * Last line: RESULT {json}.
 */
import { availableParallelism, loadavg } from 'node:os';
import { randomFillSync } from 'node:crypto';
import zlib from 'node:zlib';
import { crc64, crc64Info } from '../shared/crc64/index.ts';
import { backend } from '../shared/crc64/loader.ts';
import { crc64Js } from '../shared/crc64/js.ts';
import { gzipMember, gzipMemberAsync } from '../shared/gzip/index.ts';
import { generateLogLike } from './lib/loglike.ts';

const SIZE = 256 * 1024 * 1024;
const MEMBER = 8 * 1024 * 1024;

/** Seconds of one run. */
function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Best time per case over `rounds`, the cases interleaved round-robin: other engineers load this 2-core host
 * in bursts, and interleaving puts a case and its reference under the same conditions.
 */
async function interleaved(rounds: number, cases: Record<string, () => void | Promise<void>>): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(cases)) {
      const t = await timeAsync(async () => {
        await fn();
      });
      best[name] = Math.min(best[name] ?? Infinity, t);
    }
  }
  return best;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const info = crc64Info();
const cores = availableParallelism();
console.log(`ossferry bench:crc — ${SIZE / 2 ** 20} MiB, node ${process.version}, ${cores} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`crc64 backend: ${info.implementation} (kernel ${info.kernel}), probe ${info.probeMBps} MB/s, cpu ${JSON.stringify(info.cpu)}`);

// --- CRC-64 on random bytes ---
const rand = Buffer.allocUnsafe(SIZE);
randomFillSync(rand);
const dst = Buffer.allocUnsafe(SIZE);
dst.fill(1); // fault the pages in before timing the copy
let sink = 0n;
const addon = backend().addon;
const tc = await interleaved(7, {
  copy: () => void rand.copy(dst),
  crc: () => void (sink ^= crc64(rand)),
  chunked: () => {
    let c = 0n;
    for (let o = 0; o < SIZE; o += 1 << 20) c = crc64(rand.subarray(o, o + (1 << 20)), c);
    sink ^= c;
  },
  isal: () => void (sink ^= addon ? addon.crc64Isal(rand) : 0n),
  scan: () => void (sink ^= addon ? addon.memScan(rand) : 0n),
});
const [tCopy, tCrc, tCrcChunked, tIsal, tScan] = [tc.copy!, tc.crc!, tc.chunked!, addon ? tc.isal! : NaN, addon ? tc.scan! : NaN];
const tJs = Math.min(time(() => void (sink ^= crc64Js(rand))), time(() => void (sink ^= crc64Js(rand))));
const copyGBps = SIZE / tCopy / 1e9;
const crc64GBps = SIZE / tCrc / 1e9;
const crc64ChunkGBps = SIZE / tCrcChunked / 1e9;
const crc64JsGBps = SIZE / tJs / 1e9;
const crc64IsalGBps = SIZE / tIsal / 1e9;
const scanGBps = SIZE / tScan / 1e9;

// --- gzip on log-like text ---
const logs = generateLogLike(SIZE, 42);
const members: Buffer[] = [];
for (let o = 0; o < SIZE; o += MEMBER) members.push(logs.subarray(o, o + MEMBER));
let igzipBytes = 0;
let parBytes = 0;
let zlibBytes = 0;
const tg = await interleaved(3, {
  igzip: () => {
    igzipBytes = 0;
    for (const m of members) igzipBytes += gzipMember(m, 1).length;
  },
  parallel: async () => {
    // All cores: `cores` members in flight on the libuv pool (like createGzipMemberStream's default).
    parBytes = 0;
    let next = 0;
    const worker = async () => {
      while (next < members.length) parBytes += (await gzipMemberAsync(members[next++]!, 1)).length;
    };
    await Promise.all(Array.from({ length: cores }, worker));
  },
  zlib6: () => {
    zlibBytes = zlib.gzipSync(logs, { level: 6 }).length;
  },
});
const [tIgzip, tPar, tZlib] = [tg.igzip!, tg.parallel!, tg.zlib6!];
const igzipMBps = SIZE / tIgzip / 1e6;
const igzipParallelMBps = SIZE / tPar / 1e6;
const zlib6MBps = SIZE / tZlib / 1e6;
const igzipRatio = SIZE / igzipBytes;
const zlib6Ratio = SIZE / zlibBytes;

const rows: Array<[string, string, string]> = [
  ['Buffer.copy (memory reference)', `${round(copyGBps)} GB/s`, ''],
  ['read-only scan, AVX2 (CRC ceiling)', `${round(scanGBps)} GB/s`, `${round(scanGBps / copyGBps)}x copy`],
  [`CRC-64 native (${info.kernel}), whole buffer`, `${round(crc64GBps)} GB/s`, `${round(crc64GBps / copyGBps)}x copy, ${round((100 * crc64GBps) / scanGBps, 0)}% of scan`],
  ['CRC-64 native, 1 MiB chunks', `${round(crc64ChunkGBps)} GB/s`, `${round(crc64ChunkGBps / copyGBps)}x copy`],
  ['CRC-64 ISA-L dispatch only (Debian 2.30)', `${round(crc64IsalGBps)} GB/s`, `${round(crc64IsalGBps / copyGBps)}x copy`],
  ['CRC-64 pure-JS fallback', `${round(crc64JsGBps, 3)} GB/s`, `${round(crc64GBps / crc64JsGBps, 1)}x slower than native`],
  ['igzip L1, 8 MiB members, 1 core', `${round(igzipMBps, 0)} MB/s`, `ratio ${round(igzipRatio)}`],
  [`igzip L1, 8 MiB members, ${cores} in flight`, `${round(igzipParallelMBps, 0)} MB/s`, `${round(igzipParallelMBps / igzipMBps)}x one core`],
  ['Node zlib L6 (gzipSync, 1 core)', `${round(zlib6MBps, 0)} MB/s`, `ratio ${round(zlib6Ratio)}`],
];
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log('');
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);

const targets: Array<[string, boolean, string]> = [
  ['native CRC-64 >= 1.5x Buffer.copy', crc64GBps >= 1.5 * copyGBps, `${round(crc64GBps / copyGBps)}x`],
  ['igzip L1 >= 5x zlib L6', igzipMBps >= 5 * zlib6MBps, `${round(igzipMBps / zlib6MBps)}x`],
  ['igzip output <= 1.2x zlib L6 output', igzipBytes <= 1.2 * zlibBytes, `${round(igzipBytes / zlibBytes, 3)}x`],
  [`parallel members >= 1.6x one core (${cores} cores)`, igzipParallelMBps >= 1.6 * igzipMBps, `${round(igzipParallelMBps / igzipMBps)}x`],
];
console.log('');
for (const [name, ok, got] of targets) console.log(`${ok ? 'PASS' : 'MISS'}  ${name.padEnd(44)} ${got}`);
if (!info.cpu.avx512f && info.cpu.vpclmulqdq) {
  console.log('note: no AVX-512 here: Debian ISA-L 2.30 would use crc64_ecma_refl_by8 (SSE PCLMULQDQ), not by16_10 (AVX-512 only); the ossferry VPCLMULQDQ/AVX2 kernel is used instead');
}
if (crc64GBps < 1.5 * copyGBps && scanGBps < 1.5 * copyGBps) {
  console.log(`note: this host's one-core read bandwidth (scan ${round(scanGBps)} GB/s) is itself below 1.5x copy: no CRC kernel can reach that target here`);
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (sink ${sink & 1n})`);
console.log(
  'RESULT ' +
    JSON.stringify({
      crc64GBps: round(crc64GBps),
      crc64JsGBps: round(crc64JsGBps, 3),
      copyGBps: round(copyGBps),
      readScanGBps: round(scanGBps),
      igzipMBps: round(igzipMBps, 0),
      igzipRatio: round(igzipRatio),
      zlib6MBps: round(zlib6MBps, 0),
      zlib6Ratio: round(zlib6Ratio),
      igzipParallelMBps: round(igzipParallelMBps, 0),
    }),
);
