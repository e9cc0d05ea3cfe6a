/**
 * npm run image:test (issue 7): runs the built function image in both roles and moves real data through it.
 *
 *   0. the image's root filesystem: the runtime, bundles and addon are there, compilers, headers, npm, caches and
 *      node_modules are not;
 *   1. local OSS (local/oss) and a local HTTP origin (local/http-source) on loopback;
 *   2. one coordinator container and WORKERS worker containers from the image (functions/image/containers.ts:
 *      buildah, host networking, bound to 127.0.0.1); each must answer POST /initialize — start to ready timed;
 *   3. the local FC gateway (local/fc) with `external` instances: the containers instead of child processes;
 *   4. a first invoke straight at each container (an empty event: handler module load + validation) — timed;
 *   5. a copy job (HTTP source → OSS), an archive job (OSS source → gzip in OSS) and, where sshd is installed, an
 *      SFTP archive job (a real sshd; the workers must read it through the image's OpenSSH client) invoked on the coordinator
 *      through the gateway with the fc2 SDK, as the CLI does; each verified independently of the report:
 *      the stored object's x-oss-hash-crc64ecma equals the CRC-64 computed here, and the bytes (gunzipped for
 *      the archive) equal the source.
 * Prints a table and `RESULT {json}`; exits 1 on any failure. Containers are removed in every case.
 * Env: OSSFERRY_IMAGE (default: dist/image-build.json's image), OSSFERRY_TEST_MB (source size, default 48),
 * OSSFERRY_TEST_WORKERS (default 2).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import FC from '@alicloud/fc2';
import OSS from 'ali-oss';
import { startFcGateway } from '../../local/fc/gateway.ts';
import { startHttpSourceServer } from '../../local/http-source/index.ts';
import { startOssServer } from '../../local/oss/index.ts';
import { sshdAvailable, startSshd, type Sshd } from '../../local/sshd.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { imagePathsPresent, postOnce, startContainer, type RunningContainer } from './containers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICE = 'ossferry';
const COORDINATOR = 'coordinator';
const WORKER = 'worker';
const ACCOUNT = '1234567890123456';
const MiB = 1 << 20;
/** Files a function instance needs (functions/Dockerfile's final stage). */
const IMAGE_MUST_HAVE = ['/usr/local/bin/node', '/app/main.mjs', '/app/self-check.mjs', '/app/ossferry_native.node', '/usr/lib/x86_64-linux-gnu/libisal.so.2', '/usr/bin/ssh'];
/** Build-time files that must not reach it: compilers, headers, npm and its caches, node_modules. */
const IMAGE_MUST_NOT_HAVE = [
  '/usr/bin/gcc', '/usr/bin/cc', '/usr/bin/g++', '/usr/bin/make', '/usr/bin/python3', '/usr/include/isa-l.h', '/usr/local/include/node',
  '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/lib/node_modules', '/root/.npm', '/home/node/.npm', '/app/node_modules', '/src',
];

function imageName(): string {
  if (process.env.OSSFERRY_IMAGE) return process.env.OSSFERRY_IMAGE;
  const rec = path.join(root, 'dist/image-build.json');
  if (existsSync(rec)) return (JSON.parse(readFileSync(rec, 'utf8')) as { image: string }).image;
  return 'localhost/ossferry/function:latest';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Deterministic, poorly compressible-but-not-random bytes: text-like runs mixed with noise. */
function sourceBytes(size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b.writeUInt32LE((x & (i % 4096 < 2048 ? 0x3f3f3f3f : 0xffffffff)) >>> 0, i);
  }
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

async function main(): Promise<number> {
  const image = imageName();
  const workers = Number(process.env.OSSFERRY_TEST_WORKERS ?? 2);
  const size = Number(process.env.OSSFERRY_TEST_MB ?? 48) * MiB;
  const cleanups: Array<() => Promise<void>> = [];
  const containers: RunningContainer[] = [];
  const failures: string[] = [];
  const out: Record<string, unknown> = { image, workers, sourceBytes: size };
  let interrupted = false;
  const onSignal = () => { interrupted = true; void cleanupAll().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  async function cleanupAll() {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  }

  try {
    // 0. What the final image holds: the runtime, the bundles and the addon, and no build tools or caches
    //    (issue 7: no dev dependencies, compilers or npm cache), checked on the image's own root filesystem.
    const present = imagePathsPresent(image, [...IMAGE_MUST_HAVE, ...IMAGE_MUST_NOT_HAVE]);
    const missing = IMAGE_MUST_HAVE.filter((p) => !present[p]);
    const unwanted = IMAGE_MUST_NOT_HAVE.filter((p) => present[p]);
    if (missing.length) failures.push(`image lacks ${missing.join(', ')}`);
    if (unwanted.length) failures.push(`image holds build-time files: ${unwanted.join(', ')}`);
    out.contents = { checked: IMAGE_MUST_HAVE.length + IMAGE_MUST_NOT_HAVE.length, missing, unwanted };

    // 1. Local OSS + HTTP origin.
    const oss = await startOssServer({ buckets: ['ossferry-src', 'ossferry-dst', 'ossferry-status'], fsync: false });
    cleanups.push(() => oss.close());
    const data = sourceBytes(size);
    const dataCrc = crc64(data);
    const http = await startHttpSourceServer({ files: { '/big.bin': data } });
    cleanups.push(() => http.close());
    const srcClient = new OSS(oss.clientOptions('ossferry-src'));
    await srcClient.put('inbox/big.bin', data);
    const dst = new OSS(oss.clientOptions('ossferry-dst'));
    let sshd: Sshd | undefined;
    if (await sshdAvailable()) {
      sshd = await startSshd({ files: { 'big.bin': data } });
      cleanups.push(() => sshd!.close());
    }

    // 2. Containers. The gateway's port is chosen first: the coordinator needs it as its FC endpoint.
    const fcPort = await freePort();
    const fcEndpoint = `http://127.0.0.1:${fcPort}`;
    const env: Record<string, string> = {
      [FUNCTION_ENV.SERVICE_NAME]: SERVICE,
      [FUNCTION_ENV.WORKER_FUNCTION]: WORKER,
      [FUNCTION_ENV.FC_ENDPOINT]: fcEndpoint,
      [FUNCTION_ENV.OSS_ENDPOINT]: oss.endpoint,
      [FUNCTION_ENV.ACCOUNT_ID]: ACCOUNT,
      [FUNCTION_ENV.REGION]: oss.region,
      [FUNCTION_ENV.STATUS_LOCATION]: 'oss://ossferry-status/jobs',
      [FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]: '127.0.0.1',
      [FUNCTION_ENV.MAX_WORKERS]: String(workers),
      [FUNCTION_ENV.WORKER_TIMEOUT_SECONDS]: '600',
      ...(sshd && {
        [FUNCTION_ENV.SFTP_PRIVATE_KEY]: sshd.privateKey,
        [FUNCTION_ENV.SFTP_HOST_KEYS]: JSON.stringify({ [`127.0.0.1:${sshd.port}`]: sshd.hostKeyFingerprint }),
      }),
    };
    const output: string[] = [];
    const log = (name: string) => (line: string) => {
      output.push(line);
      process.stderr.write(`[${name}] ${line}\n`);
    };
    const roles: Array<[string, string]> = [[COORDINATOR, 'coordinator'], ...Array.from({ length: workers }, (_, i) => [`${WORKER}-${i}`, 'worker'] as [string, string])];
    for (const [name, role] of roles) {
      const c = await startContainer({
        image,
        name: `ossferry-image-test-${name}-${process.pid}`,
        port: await freePort(),
        env: { ...env, [FUNCTION_ENV.ROLE]: role },
        onOutput: log(name),
      });
      containers.push(c);
      cleanups.push(() => c.stop());
    }
    out.startToReadyMs = containers.map((c) => Number(fmt(c.startToReadyMs)));
    out.spawnToReadyMs = containers.map((c) => Number(fmt(c.spawnToReadyMs)));

    // 3. Gateway pointing at the containers.
    const creds = { accessKeyId: oss.accessKeyId, accessKeySecret: oss.accessKeySecret };
    const gateway = await startFcGateway({
      accountId: ACCOUNT,
      ...creds,
      region: oss.region,
      port: fcPort,
      credentialsForFunctions: creds,
      functions: [
        { serviceName: SERVICE, functionName: COORDINATOR, memoryMb: 1024, timeoutSeconds: 600, instanceConcurrency: 10, maxInstances: 1, initializer: 'init', instances: { kind: 'external', urls: [containers[0]!.baseUrl] } },
        { serviceName: SERVICE, functionName: WORKER, memoryMb: 2048, timeoutSeconds: 600, instanceConcurrency: 1, maxInstances: workers, initializer: 'init', instances: { kind: 'external', urls: containers.slice(1).map((c) => c.baseUrl) } },
      ],
    });
    cleanups.push(() => gateway.close());

    // 4. First invoke at each container directly: an empty event must come back as a structured error, fast.
    const first: number[] = [];
    for (const c of containers) {
      const t0 = performance.now();
      const r = await postOnce(`${c.baseUrl}/invoke`, '{}', { 'x-fc-request-id': `first-${c.name}`, 'x-fc-control-path': '/invoke', 'x-fc-access-key-id': creds.accessKeyId, 'x-fc-access-key-secret': creds.accessKeySecret });
      first.push(performance.now() - t0);
      if (r.status !== 200 && r.status !== 404) failures.push(`${c.name}: first invoke answered HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    }
    out.firstInvokeMs = first.map((n) => Number(fmt(n)));

    // 5. Jobs through the gateway, as the CLI submits them.
    const fc = new FC(ACCOUNT, { ...{ accessKeyID: creds.accessKeyId, accessKeySecret: creds.accessKeySecret }, region: oss.region, endpoint: fcEndpoint, timeout: 600_000 });
    const jobs = [
      { name: 'copy', spec: { source: http.url('/big.bin'), destination: 'oss://ossferry-dst/copied/big.bin', mode: 'copy', partSize: 8 * MiB, workers, streamsPerWorker: 2 } },
      { name: 'archive', spec: { source: 'oss://ossferry-src/inbox/big.bin', sourceEndpoint: oss.endpoint, destination: 'oss://ossferry-dst/archived/big.bin.gz', mode: 'archive', gzipLevel: 1, partSize: 8 * MiB, workers, streamsPerWorker: 2 } },
      ...(sshd ? [{ name: 'sftp archive', spec: { source: sshd.urlFor('big.bin'), destination: 'oss://ossferry-dst/sftp/big.bin.gz', mode: 'archive', gzipLevel: 1, partSize: 8 * MiB, workers, streamsPerWorker: 2 } }] : []),
    ];
    const jobResults: Record<string, unknown>[] = [];
    for (const job of jobs) {
      const t0 = performance.now();
      let report: unknown;
      try {
        const res = (await fc.invokeFunction(SERVICE, COORDINATOR, JSON.stringify(job.spec))) as { data: unknown; headers: Record<string, string> };
        report = typeof res.data === 'string' || Buffer.isBuffer(res.data) ? JSON.parse(String(res.data)) : res.data;
        if (res.headers['x-fc-error-type']) throw new Error(`function error ${res.headers['x-fc-error-type']}: ${JSON.stringify(report).slice(0, 500)}`);
      } catch (err) {
        failures.push(`${job.name} job failed: ${(err as Error).message}`);
        jobResults.push({ job: job.name, ok: false, error: (err as Error).message });
        continue;
      }
      const seconds = (performance.now() - t0) / 1000;
      const key = job.spec.destination.replace('oss://ossferry-dst/', '');
      const head = await dst.head(key);
      const ossCrc = BigInt(String((head.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']));
      const stored = (await dst.get(key)).content as Buffer;
      const storedCrc = crc64(stored);
      const content = job.spec.mode === 'archive' ? gunzipSync(stored) : stored;
      const okCrc = ossCrc === storedCrc && (job.spec.mode === 'archive' || ossCrc === dataCrc);
      const okBytes = content.length === data.length && sha(content) === sha(data);
      if (!okCrc) failures.push(`${job.name}: CRC mismatch (OSS ${ossCrc}, computed ${storedCrc}, source ${dataCrc})`);
      if (!okBytes) failures.push(`${job.name}: stored bytes${job.spec.mode === 'archive' ? ' (gunzipped)' : ''} differ from the source`);
      jobResults.push({ job: job.name, ok: okCrc && okBytes, seconds: Number(seconds.toFixed(2)), MBps: Number((size / 1e6 / seconds).toFixed(1)), storedBytes: stored.length, crc64: ossCrc.toString(), crcVerified: okCrc, report });
    }
    out.jobs = jobResults;
    if (sshd) {
      // The workers' SFTP sessions must have run on the image's OpenSSH client, not the ssh2 fallback.
      const sessions = output.filter((l) => l.includes('sftp session up'));
      out.sftpTransports = [...new Set(sessions.map((l) => /"transport":"(\w+)"/.exec(l)?.[1] ?? '?'))];
      if (sessions.length === 0 || sessions.some((l) => !l.includes('"transport":"openssh"'))) failures.push(`SFTP sessions in the image ran on ${JSON.stringify(out.sftpTransports)}, not openssh`);
    }
    out.gatewayStats = gateway.stats();
  } catch (err) {
    failures.push((err as Error).stack ?? String(err));
  } finally {
    await cleanupAll();
  }
  if (interrupted) return 130;

  console.log('\nossferry image test');
  console.log(`  image                  ${image}`);
  console.log(`  start → /initialize    ${((out.startToReadyMs as number[] | undefined) ?? []).join(', ')} ms (container process start; coordinator first)`);
  console.log(`  spawn → /initialize    ${((out.spawnToReadyMs as number[] | undefined) ?? []).join(', ')} ms (incl. buildah run setup)`);
  console.log(`  first invoke           ${((out.firstInvokeMs as number[] | undefined) ?? []).join(', ')} ms`);
  const contents = out.contents as { checked: number; missing: string[]; unwanted: string[] } | undefined;
  if (contents) console.log(`  contents               ${contents.missing.length + contents.unwanted.length === 0 ? 'OK' : 'FAILED'}: ${contents.checked} paths (runtime, bundles, addon present; no compilers, headers, npm, caches, node_modules)`);
  for (const j of (out.jobs as Record<string, unknown>[] | undefined) ?? []) {
    console.log(`  ${String(j.job).padEnd(13)} job      ${j.ok ? 'OK' : 'FAILED'}  ${j.seconds ?? '-'} s  ${j.MBps ?? '-'} MB/s  crc64 ${j.crc64 ?? '-'} verified=${j.crcVerified ?? false}`);
  }
  if (out.sftpTransports) console.log(`  sftp transport         ${(out.sftpTransports as string[]).join(', ')} (workers' SFTP sessions)`);
  for (const f of failures) console.log(`  FAILURE: ${f}`);
  out.ok = failures.length === 0;
  out.failures = failures;
  console.log(`RESULT ${JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();
