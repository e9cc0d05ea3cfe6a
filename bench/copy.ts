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
 * highest worker peak (VmHWM). Targets: ossferry ≥ 1.5 × (a); (c) is shown for scale (a CPU-bound two-core box cannot promise a share of it).
 * The machine is shared: the cases run in --rounds alternating rounds (ossferry, a, b, c, ossferry, …) and the
 * table shows medians, per-round MB/s and each case's CPU seconds by process (CPU per byte is the figure noise
 * does not move much); the ratios are those of the medians, with the range of same-round ratios.
 * Pipeline gaps: "ossferry, no prefetch" is the same path in a cloud whose workers do not read the next part
 * ahead (OSSFERRY_PREFETCH=off), so the read-ahead's effect is a same-run ratio. Target: ossferry ≥ 1.2 × (b).
 * CPU floor (f): a bare Node socket relay (bench/lib/relay-floor.ts) moves the same bytes from a plain TCP source
 * to a plain TCP sink, same streams and part size, no HTTP, no CRC; the copy workers' CPU seconds per GiB are
 * reported beside the relay's. Target: ≤ 1.5 × the floor.
 * Latency-bound case: a second pair of clouds whose HTTP source and OSS answer every request after --latency-ms
 * and cap every connection at --cap bytes/s, a smaller file (--latency-size); the bound is streams × cap, the
 * target ossferry ≥ 0.9 × that bound, with "ali-oss tuned" (same part size and parallelism) against the same
 * shaped OSS beside it.
 * Usage: node bench/copy.ts [--size 2GiB] [--workers N] [--streams 8] [--part-size 16MiB] [--rounds 3]
 *          [--latency-size 256MiB] [--latency-ms 30] [--cap 2MiB] [--latency-part-size 4MiB] [--no-latency]
 *          [--with-undici] [--prof-dir DIR]
 *   --with-undici: also the same path over undici (the transport decision's case; off by default to save time).
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
import { LOCAL_DEFAULTS, startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../local/cloud.ts';
import { writeRandomFile } from '../local/http-source/sample-file.ts';
import { sampleFunctionRss } from '../local/procs.ts';
import { cpuDelta, cpuSnapshot, functionRoleCpuSeconds } from './lib/cpu.ts';
import { runRelay, startFloorServers } from './lib/relay-floor.ts';
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
  /** CPU seconds per GiB of the median round: the copy workers' (ossferry cases) or the relay's (floor). */
  cpuPerGiB?: number;
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

interface Round {
  seconds: number;
  rss: number;
  cpu: Record<string, number>;
  /** Worker or relay CPU seconds (the CPU-per-GiB figure). */
  ownCpu?: number;
}

/** A case: how to run one round of it. */
interface Case {
  key: string;
  name: string;
  note: string;
  bytes: number;
  run(round: number): Promise<Omit<Round, 'cpu'>>;
}

/** One timed ossferry job; the workers' CPU seconds measured around it. */
async function ossferryJob(c: LocalCloud, file: string, dest: string, expected: bigint, spec: { partSize: number; workers: number; streams: number }): Promise<Omit<Round, 'cpu'>> {
  const rss = sampleFunctionRss('worker', 200);
  const w0 = functionRoleCpuSeconds('worker');
  const t0 = performance.now();
  const report = await c.submitJob({ source: c.httpSource.url(`/${file}`), destination: `oss://${c.bucket}/${dest}`, partSize: spec.partSize, workers: spec.workers, streamsPerWorker: spec.streams });
  const seconds = (performance.now() - t0) / 1000;
  const ownCpu = functionRoleCpuSeconds('worker') - w0;
  const peaks = [...rss.stop().values()];
  if (report.crc64 !== expected) throw new Error(`ossferry CRC-64 ${report.crc64} != source ${expected}`);
  await c.ossClient().delete(dest);
  return { seconds, rss: Math.max(0, ...peaks), ownCpu };
}

interface Rounds {
  keys: string[];
  results: CaseResult[];
  runs: Round[][];
}

/** Runs the cases in alternating rounds and summarises each by its median round. */
async function runRounds(cases: Case[], rounds: number, file: string, label: string): Promise<Rounds> {
  const runs = cases.map(() => [] as Round[]);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, c] of cases.entries()) {
      await warmPageCache(file);
      process.stderr.write(`bench:copy: ${label}round ${round}/${rounds}: ${c.name}\n`);
      const cpu0 = cpuSnapshot();
      const r = await c.run(round);
      runs[i]!.push({ ...r, cpu: cpuDelta(cpu0, cpuSnapshot()) });
    }
  }
  const results = cases.map((c, i) => {
    const rs = runs[i]!;
    const med = medianBy(rs, (r) => r.seconds);
    return {
      name: c.name,
      bytes: c.bytes,
      seconds: med.seconds,
      mbps: c.bytes / 1e6 / med.seconds,
      roundsMBps: rs.map((r) => +(c.bytes / 1e6 / r.seconds).toFixed(1)),
      peakRssMiB: Math.max(...rs.map((r) => r.rss)) / MiB,
      cpu: med.cpu,
      ...(med.ownCpu !== undefined ? { cpuPerGiB: med.ownCpu / (c.bytes / 2 ** 30) } : {}),
      note: c.note,
    } satisfies CaseResult;
  });
  return { keys: cases.map((c) => c.key), results, runs };
}

/** Same-round ratios a/b (seconds of b over seconds of a: > 1 means a is faster). */
const sameRoundRatios = (runs: Round[][], a: number, b: number) => runs[a]!.map((r, k) => runs[b]![k]!.seconds / r.seconds);

function printTable(results: CaseResult[]): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`${pad('case', 30)} ${pad('MB/s', 8)} ${pad('seconds', 8)} ${pad('rounds MB/s', 20)} ${pad('peak RSS', 9)} ${pad('CPU s/GiB', 10)} ${pad('CPU s (median round)', 62)} notes`);
  const cpuText = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
  for (const r of results) {
    console.log(`${pad(r.name, 30)} ${pad(r.mbps.toFixed(1), 8)} ${pad(r.seconds.toFixed(2), 8)} ${pad(r.roundsMBps.join(' '), 20)} ${pad(`${r.peakRssMiB.toFixed(0)} MiB`, 9)} ${pad(r.cpuPerGiB !== undefined ? r.cpuPerGiB.toFixed(2) : '', 10)} ${pad(cpuText(r.cpu), 62)} ${r.note}`);
  }
}

async function main(): Promise<void> {
  const size = parseSize('--size', flag('--size', '2GiB'));
  const workers = parseWhole('--workers', flag('--workers', String(LOCAL_DEFAULTS.workers.maxInstances)), 1, 64);
  const streams = parseWhole('--streams', flag('--streams', String(LOCAL_DEFAULTS.streamsPerWorker)), 1, 64);
  const partSize = parseSize('--part-size', flag('--part-size', '16MiB'));
  const rounds = parseWhole('--rounds', flag('--rounds', '3'), 1, 20);
  const withUndici = process.argv.includes('--with-undici');
  const latency = !process.argv.includes('--no-latency');
  const latencySize = parseSize('--latency-size', flag('--latency-size', '256MiB'));
  const latencyMs = parseWhole('--latency-ms', flag('--latency-ms', '30'), 0, 60_000);
  const cap = parseSize('--cap', flag('--cap', '2MiB'));
  const latencyPartSize = parseSize('--latency-part-size', flag('--latency-part-size', '4MiB'));
  const profDir = process.argv.includes('--prof-dir') ? path.resolve(flag('--prof-dir', '')) : undefined;
  const profArgs = (what: string) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, what)}`] : []);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-bench-copy-'));
  const totalStreams = workers * streams;
  const cloudWith = (env: Record<string, string>, extra: Partial<LocalCloudOptions> = {}) =>
    startLocalCloud({
      sourceRoot: dir,
      workers: { maxInstances: workers, instanceConcurrency: 1, memoryMb: 2048 },
      serverProcesses: { execArgv: profArgs('server') },
      functionEnv: { ...env, ...(profDir ? { NODE_OPTIONS: profArgs('function').join(' ') } : {}) },
      ...extra,
    });
  const clouds: LocalCloud[] = [];
  const started = async (p: Promise<LocalCloud>) => {
    const c = await p;
    clouds.push(c);
    return c;
  };
  let floor: Awaited<ReturnType<typeof startFloorServers>> | undefined;
  let main: Rounds;
  let lat: Rounds | undefined;
  const coldNotes: string[] = [];
  try {
    const cloud = await started(cloudWith({}));
    const noPrefetch = await started(cloudWith({ OSSFERRY_PREFETCH: 'off' }));
    // The same path with ranged reads over undici instead of the hand-written transport (kept only if it wins).
    const undiciCloud = withUndici ? await started(cloudWith({ OSSFERRY_HTTP_TRANSPORT: 'undici' })) : undefined;
    const shaping = { latencyMs, bandwidthBytesPerSecond: cap };
    const shaped = (env: Record<string, string>) => cloudWith(env, { sourceShaping: shaping, ossFaults: { all: { latencyMs }, bandwidthBytesPerSecond: cap } });
    const latCloud = latency ? await started(shaped({})) : undefined;
    const latNoPrefetch = latency ? await started(shaped({ OSSFERRY_PREFETCH: 'off' })) : undefined;

    process.stderr.write(`bench:copy: writing a ${(size / MiB).toFixed(0)} MiB source file\n`);
    const file = path.join(dir, 'src.bin');
    const expected = await writeRandomFile(file, size);
    const latFile = path.join(dir, 'lat.bin');
    const latExpected = latency ? await writeRandomFile(latFile, latencySize) : 0n;
    const clientOptions = { ...cloud.oss.clientOptions(cloud.bucket), retryMax: 0 } as unknown as OSS.Options;

    // Warm-up (reported, not timed into the result): starts the worker instances, as a second job would find them.
    const warmSize = Math.min(size, workers * streams * partSize);
    process.stderr.write('bench:copy: ossferry warm-up jobs (cold worker start)\n');
    await writeRandomFile(path.join(dir, 'warm.bin'), warmSize);
    for (const c of clouds) {
      const tw = performance.now();
      const warm = await c.submitJob({ source: c.httpSource.url('/warm.bin'), destination: `oss://${c.bucket}/bench/warmup.bin`, partSize, workers, streamsPerWorker: streams });
      if (c === cloud) {
        const coldSeconds = (performance.now() - tw) / 1000;
        coldNotes.push(`cold job (${(warm.size / MiB).toFixed(0)} MiB incl. ${workers} worker starts): ${coldSeconds.toFixed(2)} s, ${(warm.size / 1e6 / coldSeconds).toFixed(1)} MB/s`);
      }
    }
    floor = await startFloorServers(file);
    const floorPorts = floor;

    const spec = { partSize, workers, streams };
    const child = (kind: ChildArgs['kind']) => async () => {
      const r = await runChild({ kind, client: clientOptions, file, size, partSize, parallel: totalStreams });
      return { seconds: r.seconds, rss: r.maxRssBytes };
    };
    const cases: Case[] = [
      { key: 'ossferry', name: 'ossferry', note: `${workers} workers × ${streams} streams, prefetch, CRC-64 verified, warm instances; RSS = max worker`, bytes: size, run: (k) => ossferryJob(cloud, 'src.bin', `bench/ossferry-${k}.bin`, expected, spec) },
      { key: 'noPrefetch', name: 'ossferry, no prefetch', note: 'the same, each part read only once its stream is free (OSSFERRY_PREFETCH=off)', bytes: size, run: (k) => ossferryJob(noPrefetch, 'src.bin', `bench/noprefetch-${k}.bin`, expected, spec) },
      ...(undiciCloud ? [{ key: 'undici', name: 'ossferry over undici', note: 'the same, ranged reads through undici (Pool.request) instead of the hand-written transport', bytes: size, run: (k: number) => ossferryJob(undiciCloud, 'src.bin', `bench/undici-${k}.bin`, expected, spec) }] : []),
      { key: 'default', name: 'ali-oss (a) default', note: 'multipartUpload(file), defaults', bytes: size, run: child('default') },
      { key: 'tuned', name: 'ali-oss (b) tuned', note: `multipartUpload(file), partSize ${(partSize / MiB).toFixed(0)} MiB, parallel ${totalStreams}`, bytes: size, run: child('tuned') },
      { key: 'ceiling', name: 'ceiling (c) raw parts', note: `signed UploadPart from memory, no MD5/CRC, ${totalStreams} streams`, bytes: size, run: child('ceiling') },
      {
        key: 'floor',
        name: 'floor (f) socket relay',
        note: `bare TCP relay, source socket → sink socket, no HTTP/CRC, ${totalStreams} streams; CPU s/GiB = relay process`,
        bytes: size,
        run: async () => {
          const r = await runRelay({ sourcePort: floorPorts.sourcePort, sinkPort: floorPorts.sinkPort, size, partSize, streams: totalStreams });
          return { seconds: r.seconds, rss: r.maxRssBytes, ownCpu: r.cpuSeconds };
        },
      },
    ];
    main = await runRounds(cases, rounds, file, '');

    if (latCloud && latNoPrefetch) {
      const latClient = { ...latCloud.oss.clientOptions(latCloud.bucket), retryMax: 0 } as unknown as OSS.Options;
      const latSpec = { partSize: latencyPartSize, workers, streams };
      const latCases: Case[] = [
        { key: 'ossferry', name: 'latency: ossferry', note: `${latencyMs} ms to first byte, ${(cap / MiB).toFixed(1)} MiB/s per connection (source and OSS), ${totalStreams} streams`, bytes: latencySize, run: (k) => ossferryJob(latCloud, 'lat.bin', `bench/lat-${k}.bin`, latExpected, latSpec) },
        { key: 'noPrefetch', name: 'latency: ossferry, no prefetch', note: 'the same, OSSFERRY_PREFETCH=off', bytes: latencySize, run: (k) => ossferryJob(latNoPrefetch, 'lat.bin', `bench/latnp-${k}.bin`, latExpected, latSpec) },
        {
          key: 'tuned',
          name: 'latency: ali-oss (b) tuned',
          note: `multipartUpload(file) to the same shaped OSS, partSize ${(latencyPartSize / MiB).toFixed(0)} MiB, parallel ${totalStreams}`,
          bytes: latencySize,
          run: async () => {
            const r = await runChild({ kind: 'tuned', client: latClient, file: latFile, size: latencySize, partSize: latencyPartSize, parallel: totalStreams });
            return { seconds: r.seconds, rss: r.maxRssBytes };
          },
        },
      ];
      lat = await runRounds(latCases, rounds, latFile, 'latency case: ');
    }
  } finally {
    await floor?.close();
    for (const c of clouds) await c.close();
    await rm(dir, { recursive: true, force: true });
  }

  const idx = (key: string) => main.keys.indexOf(key);
  const at = (key: string) => main.results[idx(key)]!;
  const ours = at('ossferry');
  const np = at('noPrefetch');
  const [a, b, c, f] = [at('default'), at('tuned'), at('ceiling'), at('floor')];
  console.log('');
  printTable(lat ? [...main.results, ...lat.results] : main.results);
  const vsDefault = ours.mbps / a.mbps;
  const vsTuned = ours.mbps / b.mbps;
  const vsCeiling = ours.mbps / c.mbps;
  const prefetchGain = ours.mbps / np.mbps;
  const range = (x: string, y: string) => ratioRange(sameRoundRatios(main.runs, idx(x), idx(y)));
  const cpuVsFloor = ours.cpuPerGiB! / f.cpuPerGiB!;
  console.log('');
  console.log(`ossferry / ali-oss tuned = ${vsTuned.toFixed(2)} (same-round ${range('ossferry', 'tuned')}; target ≥ 1.2)   ossferry / no prefetch = ${prefetchGain.toFixed(2)} (same-round ${range('ossferry', 'noPrefetch')})   no prefetch / ali-oss tuned = ${(np.mbps / b.mbps).toFixed(2)}`);
  console.log(`ossferry / ali-oss default = ${vsDefault.toFixed(2)} (same-round ${range('ossferry', 'default')}; target ≥ 1.5)   ossferry / ceiling = ${vsCeiling.toFixed(2)} (same-round ${range('ossferry', 'ceiling')})`);
  console.log(`worker CPU ${ours.cpuPerGiB!.toFixed(2)} s/GiB (no prefetch ${np.cpuPerGiB!.toFixed(2)}) / socket-relay floor ${f.cpuPerGiB!.toFixed(2)} s/GiB = ${cpuVsFloor.toFixed(2)} (target ≤ 1.5)`);
  let undiciFields = {};
  if (withUndici) {
    const u = at('undici');
    const rawVsUndici = ours.mbps / u.mbps;
    const transportDecision = rawVsUndici >= 1.15 ? 'keep the hand-written transport' : 'use undici';
    console.log(`hand-written transport / undici = ${rawVsUndici.toFixed(2)} (same-round ${range('ossferry', 'undici')}; keep it only at ≥ 1.15): ${transportDecision}`);
    undiciFields = { undiciMBps: +u.mbps.toFixed(1), rawVsUndici: +rawVsUndici.toFixed(2), sameRoundRawVsUndici: range('ossferry', 'undici'), transportDecision };
  }
  let latencyFields = {};
  if (lat) {
    const [lo, lnp, lt] = lat.results as [CaseResult, CaseResult, CaseResult];
    const boundMBps = (totalStreams * cap) / 1e6;
    const ratio = lo.mbps / boundMBps;
    console.log(
      `latency case: ossferry ${lo.mbps.toFixed(1)} MB/s = ${ratio.toFixed(2)} × (streams × cap = ${totalStreams} × ${(cap / MiB).toFixed(1)} MiB/s = ${boundMBps.toFixed(1)} MB/s; target ≥ 0.9)   no prefetch ${(lnp.mbps / boundMBps).toFixed(2)} ×   ali-oss tuned ${(lt.mbps / boundMBps).toFixed(2)} ×   ossferry / ali-oss tuned = ${(lo.mbps / lt.mbps).toFixed(2)} (same-round ${ratioRange(sameRoundRatios(lat.runs, 0, 2))})`,
    );
    latencyFields = {
      latency: {
        bytes: latencySize,
        latencyMs,
        capBytesPerSecond: cap,
        partSize: latencyPartSize,
        streams: totalStreams,
        boundMBps: +boundMBps.toFixed(1),
        ossferryMBps: +lo.mbps.toFixed(1),
        noPrefetchMBps: +lnp.mbps.toFixed(1),
        aliOssTunedMBps: +lt.mbps.toFixed(1),
        ratioVsBound: +ratio.toFixed(2),
        noPrefetchRatioVsBound: +(lnp.mbps / boundMBps).toFixed(2),
        aliOssTunedRatioVsBound: +(lt.mbps / boundMBps).toFixed(2),
        roundsMBps: Object.fromEntries(lat.results.map((r) => [r.name, r.roundsMBps])),
        target: 0.9,
        met: ratio >= 0.9,
      },
    };
  }
  console.log(`loopback on ${os.cpus().length} CPU(s); local OSS and HTTP source each in their own process, shared by every case; source file in the page cache`);
  console.log(`ossferry ${coldNotes.join('; ')}`);
  console.log(
    `RESULT ${JSON.stringify({
      bench: 'copy',
      bytes: ours.bytes,
      ossferryMBps: +ours.mbps.toFixed(1),
      ossferryNoPrefetchMBps: +np.mbps.toFixed(1),
      aliOssDefaultMBps: +a.mbps.toFixed(1),
      aliOssTunedMBps: +b.mbps.toFixed(1),
      ceilingMBps: +c.mbps.toFixed(1),
      floorMBps: +f.mbps.toFixed(1),
      ...undiciFields,
      ratioVsDefault: +vsDefault.toFixed(2),
      ratioVsTuned: +vsTuned.toFixed(2),
      noPrefetchRatioVsTuned: +(np.mbps / b.mbps).toFixed(2),
      prefetchGain: +prefetchGain.toFixed(2),
      ratioVsCeiling: +vsCeiling.toFixed(2),
      sameRoundRatioVsTuned: range('ossferry', 'tuned'),
      sameRoundPrefetchGain: range('ossferry', 'noPrefetch'),
      sameRoundRatioVsDefault: range('ossferry', 'default'),
      sameRoundRatioVsCeiling: range('ossferry', 'ceiling'),
      workerCpuSecondsPerGiB: +ours.cpuPerGiB!.toFixed(2),
      noPrefetchWorkerCpuSecondsPerGiB: +np.cpuPerGiB!.toFixed(2),
      floorCpuSecondsPerGiB: +f.cpuPerGiB!.toFixed(2),
      cpuVsFloor: +cpuVsFloor.toFixed(2),
      rounds,
      roundsMBps: Object.fromEntries(main.results.map((r) => [r.name, r.roundsMBps])),
      cpuSeconds: Object.fromEntries(main.results.map((r) => [r.name, r.cpu])),
      targetVsTuned: 1.2,
      targetVsDefault: 1.5,
      targetCpuVsFloor: 1.5,
      metVsTuned: vsTuned >= 1.2,
      metVsDefault: vsDefault >= 1.5,
      metCpuVsFloor: cpuVsFloor <= 1.5,
      ...latencyFields,
      ossferryColdJob: coldNotes[0],
      peakRssMiB: Object.fromEntries(main.results.map((r) => [r.name, Math.round(r.peakRssMiB)])),
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
