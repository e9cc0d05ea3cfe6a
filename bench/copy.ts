/**
 * bench:copy — 2 GiB from the local HTTP source into the local OSS:
 *   ossferry       the full path: fc2 → local FC → coordinator → workers (child processes) → ranged reads → OSS,
 *                  with everything production does (If-Match/If-Range pinned reads, CRC-64 per part checked
 *                  against x-oss-hash-crc64ecma, receipts, Complete, combined CRC verified)
 *   ossferry over undici  the same, in a second local cloud whose workers read through undici instead of the
 *                  hand-written transport (functions/sources/raw-http.ts): that transport stays only if ≥ 1.15×
 *   ali-oss (a)    `multipartUpload(file)` with its defaults, uploading the same file from disk
 *   ali-oss (b)    `multipartUpload(file)` tuned to ossferry's part size and total parallel streams
 *   ceiling (c)    raw signed UploadPart of part-sized in-memory buffers (node:http, keep-alive, no MD5/CRC on the
 *                  client, no disk read), same part size and streams: what this server setup can absorb
 * Fairness: the local OSS and the HTTP source each run in a process of their own (same server processes for
 * every case); the source file is in the page cache for all; ossferry's worker cold start is measured by a
 * warm-up job and reported separately (FC keeps instances warm for minutes; the timed job reuses them).
 * Each client-side case runs in its own process (peak RSS = that process's maxRSS); ossferry's RSS is the
 * highest worker peak (VmHWM). Targets: ossferry ≥ 1.5 × (a) and ≥ 0.8 × (c).
 * The machine is shared: the cases run in --rounds alternating rounds (ossferry, a, b, c, ossferry, …) and the
 * table shows medians, per-round MB/s and each case's CPU seconds by process (CPU per byte is the figure noise
 * does not move much); the ratios are those of the medians, with the range of same-round ratios.
 * Usage: node bench/copy.ts [--size 2GiB] [--workers 4] [--streams 8] [--part-size 16MiB] [--rounds 3] [--prof-dir DIR]
 *   --prof-dir: CPU profiles (node --cpu-prof) of the servers and the worker processes go there.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { parseSize, parseWhole } from '../cli/args.ts';
import { LOCAL_DEFAULTS, startLocalCloud } from '../local/cloud.ts';
import { writeRandomFile } from '../local/http-source/sample-file.ts';
import { sampleFunctionRss } from '../local/procs.ts';
import { cpuDelta, cpuSnapshot } from './lib/cpu.ts';
import { medianBy, ratioRange } from './lib/rounds.ts';

const MiB = 1024 * 1024;

interface CaseResult {
  name: string;
  bytes: number;
  /** Median over the rounds. */
  seconds: number;
  mbps: number;
  /** Every round's MB/s, in order. */
  roundsMBps: number[];
  peakRssMiB: number;
  /** CPU seconds of the median round, by process role (servers, functions, bench + client processes). */
  cpu: Record<string, number>;
  note: string;
}

interface ChildArgs {
  kind: 'default' | 'tuned' | 'ceiling';
  client: OSS.Options;
  file: string;
  size: number;
  partSize: number;
  parallel: number;
}

/** Client-side cases, run in a child process so their peak RSS is their own. */
async function childCase(a: ChildArgs): Promise<{ seconds: number; maxRssBytes: number }> {
  const client = new OSS(a.client);
  const key = `bench/ali-${a.kind}-${Date.now()}`;
  const t0 = performance.now();
  if (a.kind === 'default') {
    await client.multipartUpload(key, a.file, {});
  } else if (a.kind === 'tuned') {
    await client.multipartUpload(key, a.file, { partSize: a.partSize, parallel: a.parallel });
  } else {
    return rawUploadParts(a);
  }
  const seconds = (performance.now() - t0) / 1000;
  await client.delete(key); // keep the server's disk use flat across rounds
  return { seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/**
 * The ceiling: an upload opened outside the clock, then `parallel` loops of signed UploadPart requests with an
 * in-memory body (one buffer, filled once), plain node:http with keep-alive. No Content-MD5, no CRC,
 * no disk: only what the server itself must do per byte. (ali-oss put() would MD5 a copy of every body on the
 * client — that made the old "ceiling" slower than tuned ali-oss.)
 */
async function rawUploadParts(a: ChildArgs): Promise<{ seconds: number; maxRssBytes: number }> {
  const client = new OSS(a.client);
  const key = `bench/ceiling-${Date.now()}`;
  const { uploadId } = await client.initMultipartUpload(key);
  const o = a.client as unknown as { endpoint: string; region: string; bucket: string; accessKeyId: string; accessKeySecret: string };
  const endpoint = new URL(o.endpoint);
  const host = `${o.bucket}.${o.region}.aliyuncs.com`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: a.parallel });
  const count = Math.ceil(a.size / a.partSize);
  const put = (partNumber: number, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const date = new Date().toUTCString();
      const resource = `/${o.bucket}/${key}?partNumber=${partNumber}&uploadId=${uploadId}`;
      const sig = createHmac('sha1', o.accessKeySecret).update(`PUT\n\n\n${date}\n${resource}`).digest('base64');
      const req = http.request(
        {
          method: 'PUT',
          host: endpoint.hostname,
          port: endpoint.port,
          path: `/${key}?partNumber=${partNumber}&uploadId=${uploadId}`,
          agent,
          headers: { host, date, authorization: `OSS ${o.accessKeyId}:${sig}`, 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`UploadPart ${partNumber}: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // One body shared by all streams (only read): the client stays small and out of the server's way.
  const body = randomFillSync(Buffer.allocUnsafe(a.partSize));
  const buffers = Array.from({ length: a.parallel }, () => body);
  let next = 1;
  const t0 = performance.now();
  await Promise.all(
    buffers.map(async (buf) => {
      for (let n = next++; n <= count; n = next++) {
        const len = Math.min(a.partSize, a.size - (n - 1) * a.partSize);
        await put(n, len === buf.length ? buf : buf.subarray(0, len));
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await client.abortMultipartUpload(key, uploadId);
  agent.destroy();
  return { seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** Reads the file once so every case starts with it in the page cache. */
async function warmPageCache(file: string): Promise<void> {
  for await (const _ of createReadStream(file, { highWaterMark: 16 * MiB })) void _;
}

function runChild(args: ChildArgs): Promise<{ seconds: number; maxRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let outText = '';
    child.stdout.on('data', (d: Buffer) => (outText += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${args.kind} case exited with ${code}`));
      try {
        resolve(JSON.parse(outText.trim().split('\n').pop()!) as { seconds: number; maxRssBytes: number });
      } catch (e) {
        reject(e as Error);
      }
    });
    child.stdin.end(JSON.stringify(args));
  });
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const size = parseSize('--size', flag('--size', '2GiB'));
  const workers = parseWhole('--workers', flag('--workers', String(LOCAL_DEFAULTS.workers.maxInstances)), 1, 64);
  const streams = parseWhole('--streams', flag('--streams', String(LOCAL_DEFAULTS.streamsPerWorker)), 1, 64);
  const partSize = parseSize('--part-size', flag('--part-size', '16MiB'));
  const rounds = parseWhole('--rounds', flag('--rounds', '3'), 1, 20);
  const profDir = process.argv.includes('--prof-dir') ? path.resolve(flag('--prof-dir', '')) : undefined;
  const profArgs = (what: string) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, what)}`] : []);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-bench-copy-'));
  const cloud = await startLocalCloud({
    sourceRoot: dir,
    workers: { maxInstances: workers, instanceConcurrency: 1, memoryMb: 2048 },
    serverProcesses: { execArgv: profArgs('server') },
    ...(profDir ? { functionEnv: { NODE_OPTIONS: profArgs('function').join(' ') } } : {}),
  });
  // The same path with ranged reads over undici instead of the hand-written transport (issue: keep it only if it wins).
  const undiciCloud = await startLocalCloud({
    sourceRoot: dir,
    workers: { maxInstances: workers, instanceConcurrency: 1, memoryMb: 2048 },
    serverProcesses: { execArgv: profArgs('server') },
    functionEnv: { OSSFERRY_HTTP_TRANSPORT: 'undici', ...(profDir ? { NODE_OPTIONS: profArgs('function').join(' ') } : {}) },
  });
  const clouds = { ossferry: cloud, 'ossferry-undici': undiciCloud } as const;
  const results: CaseResult[] = [];
  let coldNote = '';
  let sameRound: Array<{ vsDefault: number; vsCeiling: number; vsUndici: number }> = [];
  try {
    process.stderr.write(`bench:copy: writing a ${(size / MiB).toFixed(0)} MiB source file\n`);
    const file = path.join(dir, 'src.bin');
    const expected = await writeRandomFile(file, size);
    const clientOptions = { ...cloud.oss.clientOptions(cloud.bucket), retryMax: 0 } as unknown as OSS.Options;

    // Warm-up (reported, not timed into the result): starts the worker instances, as a second job would find them.
    const warmSize = Math.min(size, workers * streams * partSize);
    process.stderr.write('bench:copy: ossferry warm-up job (cold worker start)\n');
    await writeRandomFile(path.join(dir, 'warm.bin'), warmSize);
    const tw = performance.now();
    const warm = await cloud.submitJob({ source: cloud.httpSource.url('/warm.bin'), destination: `oss://${cloud.bucket}/bench/warmup.bin`, partSize, workers, streamsPerWorker: streams });
    const coldSeconds = (performance.now() - tw) / 1000;
    await undiciCloud.submitJob({ source: undiciCloud.httpSource.url('/warm.bin'), destination: `oss://${undiciCloud.bucket}/bench/warmup.bin`, partSize, workers, streamsPerWorker: streams });
    coldNote = `cold job (${(warm.size / MiB).toFixed(0)} MiB incl. ${workers} worker starts): ${coldSeconds.toFixed(2)} s, ${(warm.size / 1e6 / coldSeconds).toFixed(1)} MB/s`;

    const cases: Array<[ChildArgs['kind'] | keyof typeof clouds, string, string]> = [
      ['ossferry', 'ossferry', `${workers} workers × ${streams} streams, CRC-64 verified, warm instances; RSS = max worker`],
      ['ossferry-undici', 'ossferry over undici', 'the same, ranged reads through undici (Pool.request) instead of the hand-written transport'],
      ['default', 'ali-oss (a) default', 'multipartUpload(file), defaults'],
      ['tuned', 'ali-oss (b) tuned', `multipartUpload(file), partSize ${(partSize / MiB).toFixed(0)} MiB, parallel ${workers * streams}`],
      ['ceiling', 'ceiling (c) raw parts', `signed UploadPart from memory, no MD5/CRC, ${workers * streams} streams`],
    ];
    const runs = cases.map(() => [] as Array<{ seconds: number; rss: number; cpu: Record<string, number> }>);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, [kind, name]] of cases.entries()) {
        await warmPageCache(file);
        process.stderr.write(`bench:copy: round ${round}/${rounds}: ${name}\n`);
        const cpu0 = cpuSnapshot();
        if (kind === 'ossferry' || kind === 'ossferry-undici') {
          const c = clouds[kind];
          const rss = sampleFunctionRss('worker', 200);
          const t0 = performance.now();
          const dest = `bench/${kind}-${round}.bin`;
          const report = await c.submitJob({ source: c.httpSource.url('/src.bin'), destination: `oss://${c.bucket}/${dest}`, partSize, workers, streamsPerWorker: streams });
          const seconds = (performance.now() - t0) / 1000;
          const peaks = [...rss.stop().values()];
          if (report.crc64 !== expected) throw new Error(`ossferry CRC-64 ${report.crc64} != source ${expected}`);
          runs[i]!.push({ seconds, rss: Math.max(0, ...peaks), cpu: cpuDelta(cpu0, cpuSnapshot()) });
          await c.ossClient().delete(dest);
        } else {
          const r = await runChild({ kind, client: clientOptions, file, size, partSize, parallel: workers * streams });
          runs[i]!.push({ seconds: r.seconds, rss: r.maxRssBytes, cpu: cpuDelta(cpu0, cpuSnapshot()) });
        }
      }
    }
    for (const [i, [, name, note]] of cases.entries()) {
      const rs = runs[i]!;
      const med = medianBy(rs, (r) => r.seconds);
      results.push({
        name,
        bytes: size,
        seconds: med.seconds,
        mbps: size / 1e6 / med.seconds,
        roundsMBps: rs.map((r) => +(size / 1e6 / r.seconds).toFixed(1)),
        peakRssMiB: Math.max(...rs.map((r) => r.rss)) / MiB,
        cpu: med.cpu,
        note,
      });
    }
    sameRound = runs[0]!.map((r, k) => ({ vsDefault: runs[2]![k]!.seconds / r.seconds, vsCeiling: runs[4]![k]!.seconds / r.seconds, vsUndici: runs[1]![k]!.seconds / r.seconds }));
  } finally {
    await cloud.close();
    await undiciCloud.close();
    await rm(dir, { recursive: true, force: true });
  }

  const [ours, undici, a, b, c] = results as [CaseResult, CaseResult, CaseResult, CaseResult, CaseResult];
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log('');
  console.log(`${pad('case', 24)} ${pad('MB/s', 8)} ${pad('seconds', 8)} ${pad('rounds MB/s', 20)} ${pad('peak RSS', 9)} ${pad('CPU s (median round)', 62)} notes`);
  const cpuText = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
  for (const r of results) {
    console.log(`${pad(r.name, 24)} ${pad(r.mbps.toFixed(1), 8)} ${pad(r.seconds.toFixed(2), 8)} ${pad(r.roundsMBps.join(' '), 20)} ${pad(`${r.peakRssMiB.toFixed(0)} MiB`, 9)} ${pad(cpuText(r.cpu), 62)} ${r.note}`);
  }
  const vsDefault = ours.mbps / a.mbps;
  const vsTuned = ours.mbps / b.mbps;
  const vsCeiling = ours.mbps / c.mbps;
  const rangeVsDefault = ratioRange(sameRound.map((r) => r.vsDefault));
  const rangeVsCeiling = ratioRange(sameRound.map((r) => r.vsCeiling));
  // The hand-written transport stays only while it is ≥ 15 % faster end to end than undici.
  const rawVsUndici = ours.mbps / undici.mbps;
  const rangeVsUndici = ratioRange(sameRound.map((r) => r.vsUndici));
  const transportDecision = rawVsUndici >= 1.15 ? 'keep the hand-written transport' : 'use undici';
  console.log('');
  console.log(`ossferry / ali-oss default = ${vsDefault.toFixed(2)} (same-round ${rangeVsDefault}; target ≥ 1.5)   ossferry / ceiling = ${vsCeiling.toFixed(2)} (same-round ${rangeVsCeiling}; target ≥ 0.8)   ossferry / ali-oss tuned = ${vsTuned.toFixed(2)}`);
  console.log(`hand-written transport / undici = ${rawVsUndici.toFixed(2)} (same-round ${rangeVsUndici}; keep it only at ≥ 1.15): ${transportDecision}`);
  console.log(`loopback on ${os.cpus().length} CPU(s); local OSS and HTTP source each in their own process, shared by every case; source file in the page cache`);
  console.log(`ossferry ${coldNote}`);
  console.log(
    `RESULT ${JSON.stringify({
      bench: 'copy',
      bytes: ours.bytes,
      ossferryMBps: +ours.mbps.toFixed(1),
      aliOssDefaultMBps: +a.mbps.toFixed(1),
      aliOssTunedMBps: +b.mbps.toFixed(1),
      ceilingMBps: +c.mbps.toFixed(1),
      undiciMBps: +undici.mbps.toFixed(1),
      rawVsUndici: +rawVsUndici.toFixed(2),
      sameRoundRawVsUndici: rangeVsUndici,
      transportDecision,
      ratioVsDefault: +vsDefault.toFixed(2),
      ratioVsTuned: +vsTuned.toFixed(2),
      ratioVsCeiling: +vsCeiling.toFixed(2),
      sameRoundRatioVsDefault: rangeVsDefault,
      sameRoundRatioVsCeiling: rangeVsCeiling,
      rounds,
      roundsMBps: Object.fromEntries(results.map((r) => [r.name, r.roundsMBps])),
      cpuSeconds: Object.fromEntries(results.map((r) => [r.name, r.cpu])),
      targetVsDefault: 1.5,
      targetVsCeiling: 0.8,
      metVsDefault: vsDefault >= 1.5,
      metVsCeiling: vsCeiling >= 0.8,
      ossferryColdJob: coldNote,
      peakRssMiB: Object.fromEntries(results.map((r) => [r.name, Math.round(r.peakRssMiB)])),
    })}`,
  );
}

if (process.argv.includes('--child')) {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const r = await childCase(JSON.parse(Buffer.concat(chunks).toString()) as ChildArgs);
  process.stdout.write(JSON.stringify(r) + '\n');
} else {
  await main();
}
