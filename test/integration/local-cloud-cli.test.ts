/**
 * `ossferry local cloud` and `ossferry local event put` through the bin, as a user tries archive rules by hand:
 * start the cloud with rules (--json), upload with ali-oss, deliver the object's OSS event, decode the archive
 * with real gzip and compare; redelivery archives nothing twice; bad input and a missing cloud exit 2 naming
 * the fix; SIGINT/SIGTERM close the cloud with exit 0 and remove its state file.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { localOssClientOptions, type LocalOssAddress } from '../../local/oss/client-options.ts';
import { decodeWith } from '../helpers/decode.ts';
import { lastJson, runOssferry, startOssferry, type RunningOssferry } from '../helpers/ossferry-bin.ts';

const rules = [
  { name: 'logs', sourceBucket: 'logs-src', sourcePrefix: 'incoming/', destinationBucket: 'logs-dst', destinationPrefix: 'archive/', gzipLevel: 2 },
];

describe('ossferry local cloud + local event put', () => {
  let dir: string;
  let dataDir: string;
  let cloud: RunningOssferry;
  let src: OSS;
  let dst: OSS;
  const eventPut = (target: string, ...more: string[]) => runOssferry(['local', 'event', 'put', target, '--data-dir', dataDir, ...more]);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-local-cloud-'));
    dataDir = path.join(dir, 'cloud');
    const rulesFile = path.join(dir, 'rules.json');
    await writeFile(rulesFile, JSON.stringify(rules));
    cloud = await startOssferry(['local', 'cloud', '--data-dir', dataDir, '--archive-rules', rulesFile, '--max-instances', '2', '--json']);
    const o = cloud.ready.oss as Omit<LocalOssAddress, 'port'>;
    const client = (bucket: string) => new OSS({ ...localOssClientOptions({ ...o, port: Number(new URL(o.endpoint).port) }, bucket), retryMax: 0 } as OSS.Options);
    src = client('logs-src');
    dst = client('logs-dst');
  });
  afterAll(async () => {
    await cloud?.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints endpoints and credentials as one JSON line and writes a private state file', () => {
    // Assess
    expect(cloud.ready).toMatchObject({ event: 'ready', dataDir, stateFile: path.join(dataDir, 'local-cloud.json'), archiveRules: [expect.objectContaining({ name: 'logs' })] });
    expect(cloud.ready.buckets).toEqual(expect.arrayContaining(['ossferry', 'logs-src', 'logs-dst']));
    expect((cloud.ready.oss as { endpoint: string }).endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cloud.ready.fc).toMatchObject({ endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), serviceName: 'ossferry', coordinatorFunction: 'coordinator', accessKeyId: expect.any(String), accessKeySecret: expect.any(String) });
    expect((cloud.ready.httpSource as { origin: string }).origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(path.join(dataDir, 'local-cloud.json')).mode & 0o777).toBe(0o600);
    expect(cloud.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('event put on an uploaded object runs the rule: the archive decodes (gzip -dc) to the upload; redelivery archives nothing twice', async () => {
    // Prepare
    const data = generateLogLike(1536 * 1024 + 7, 31);
    await src.put('incoming/web.log', data);
    // Act
    const first = await eventPut('oss://logs-src/incoming/web.log', '--json');
    const stored = (await dst.get('archive/web.log.gz')).content as Buffer;
    const second = await eventPut('oss://logs-src/incoming/web.log');
    // Assess
    expect(first.code).toBe(0);
    const r = lastJson(first.stdout) as { event: { eventName: string; oss: { object: { key: string; size: number } } }; archived: number; results: Array<{ report: Record<string, unknown> }> };
    expect(r.event).toMatchObject({ eventName: 'ObjectCreated:PutObject', oss: { object: { key: 'incoming/web.log', size: data.length } } });
    expect(r).toMatchObject({ archived: 1, failed: 0 });
    expect(r.results[0]!.report).toMatchObject({ gzipLevel: 2, size: data.length, uncompressedCrc64: crc64(data).toString() });
    expect((await decodeWith('gzip', ['-dc'], stored)).equals(data)).toBe(true);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/oss:\/\/logs-src\/incoming\/web\.log → oss:\/\/logs-dst\/archive\/web\.log\.gz: already archived/);
    expect(second.stdout).toMatch(/archived 0, already archived 1, in progress 0, failed 0, ignored 0/);
  });

  it('a multipart upload is delivered as CompleteMultipartUpload and archived', async () => {
    // Prepare
    const data = generateLogLike(300 * 1024, 32);
    await src.multipartUpload('incoming/mp.log', data, { partSize: 100 * 1024 } as OSS.MultipartUploadOptions);
    // Act
    const r = await eventPut('oss://logs-src/incoming/mp.log', '--json');
    // Assess
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ event: { eventName: 'ObjectCreated:CompleteMultipartUpload' }, archived: 1 });
    expect((await decodeWith('gzip', ['-dc'], (await dst.get('archive/mp.log.gz')).content as Buffer)).equals(data)).toBe(true);
  });

  it('an appendable object is delivered as AppendObject, which the rules skip as not yet complete', async () => {
    // Prepare
    await (src as unknown as { append(key: string, body: Buffer): Promise<unknown> }).append('incoming/growing.log', Buffer.from('first line\n'));
    // Act
    const r = await eventPut('oss://logs-src/incoming/growing.log', '--json');
    // Assess
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ event: { eventName: 'ObjectCreated:AppendObject' }, archived: 0, ignored: [{ reason: expect.stringMatching(/^event ObjectCreated:AppendObject does not create a complete object/) }] });
  });

  it('an object no rule matches is reported ignored with the reason (exit 0, nothing written)', async () => {
    // Prepare
    await src.put('elsewhere/a.log', Buffer.from('x\n'));
    // Act
    const r = await eventPut('oss://logs-src/elsewhere/a.log');
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ignored: no archive rule matches oss:\/\/logs-src\/elsewhere\/a\.log/);
    expect((await dst.list({ prefix: 'archive/elsewhere', 'max-keys': 10 }, {})).objects ?? []).toEqual([]);
  });

  it('--event-name overrides the event: a removal is ignored as not creating an object', async () => {
    // Act
    const r = await eventPut('oss://logs-src/incoming/web.log', '--event-name', 'ObjectRemoved:DeleteObject', '--json');
    // Assess
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ event: { eventName: 'ObjectRemoved:DeleteObject' }, archived: 0, alreadyArchived: 0, ignored: [{ reason: expect.stringMatching(/^event ObjectRemoved:DeleteObject does not create a complete object/) }] });
  });

  it('verify --data-dir reads through the running cloud (no second server opened on its files)', async () => {
    // Prepare: a second server on the data dir would clear its tmp/ at start; this file must survive.
    const sentinel = path.join(dataDir, 'tmp', 'in-flight-sentinel');
    await writeFile(sentinel, 'x');
    // Act
    const r = await runOssferry(['verify', 'oss://logs-dst/archive/web.log.gz', '--data-dir', dataDir, '--json']);
    // Assess
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ verified: true, archive: true });
    expect(existsSync(sentinel)).toBe(true);
    await rm(sentinel);
  });

  const bad: Array<{ name: string; args: () => string[]; message: RegExp }> = [
    { name: 'event put of a missing key', args: () => ['local', 'event', 'put', 'oss://logs-src/incoming/none.log', '--data-dir', dataDir], message: /target: oss:\/\/logs-src\/incoming\/none\.log does not exist\. Fix: upload it first/ },
    { name: 'event put into a missing bucket', args: () => ['local', 'event', 'put', 'oss://no-such-bucket/k', '--data-dir', dataDir], message: /target: bucket no-such-bucket does not exist in the local cloud .*Fix: use one of its buckets/ },
    { name: 'event put of a non-oss target', args: () => ['local', 'event', 'put', 's3://b/k', '--data-dir', dataDir], message: /target: "s3:\/\/b\/k" must start with oss:\/\/\. Fix: use oss:\/\/bucket\/key/ },
    { name: 'event put without --data-dir', args: () => ['local', 'event', 'put', 'oss://logs-src/k'], message: /--data-dir: is required\. Fix: pass the --data-dir of a running `ossferry local cloud`/ },
    { name: 'event put with no cloud on the data dir', args: () => ['local', 'event', 'put', 'oss://logs-src/k', '--data-dir', path.join(dir, 'nothing-here')], message: /--data-dir: no local cloud is running on .*nothing-here.*Fix: start one with `ossferry local cloud --data-dir / },
    { name: "a second local cloud on a running one's data dir", args: () => ['local', 'cloud', '--data-dir', dataDir], message: /--data-dir: a local cloud \(pid \d+\) is already running on .*Fix: stop it/ },
    { name: 'copy of a local file the running cloud does not serve', args: () => ['copy', path.join(dir, 'rules.json'), 'oss://ossferry/rules.json', '--data-dir', dataDir], message: /source: ".*rules\.json" is a local file; the local cloud on .* serves no directory\. Fix: pass its URL \(http:\/\/127\.0\.0\.1:\d+\/<path>\), or start the local cloud with --source-root/ },
    { name: 'local cloud with a looping archive rule', args: () => ['local', 'cloud', '--archive-rules', '[{"name":"x","sourceBucket":"a-b","destinationBucket":"a-b"}]'], message: /--archive-rules\[0\]/ },
    { name: 'local cloud with --archive-rules that is not JSON', args: () => ['local', 'cloud', '--archive-rules', '[{"name":'], message: /--archive-rules: the value is not JSON\. Fix: / },
    { name: 'local cloud with an unreadable --archive-rules file', args: () => ['local', 'cloud', '--archive-rules', path.join(dir, 'no-rules.json')], message: /--archive-rules: cannot read ".*no-rules\.json" \(ENOENT\)/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.name} with exit 2 and a message naming the fix`, async () => {
      // Act
      const r = await runOssferry(b.args());
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(b.message);
    });
  }

  it('SIGINT closes the cloud (exit 0), removes the state file, and event put then says none is running (exit 2)', async () => {
    // Act
    const stopped = await cloud.stop('SIGINT');
    const after = await eventPut('oss://logs-src/incoming/web.log');
    // Assess
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(existsSync(path.join(dataDir, 'local-cloud.json'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'buckets', 'logs-dst'))).toBe(true);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/--data-dir: no local cloud is running on .*Fix: start one with `ossferry local cloud --data-dir /);
  });

  it('a state file left by a killed cloud is not taken for a running one', async () => {
    // Prepare
    const killedDir = path.join(dir, 'killed');
    const killed = await startOssferry(['local', 'cloud', '--data-dir', killedDir, '--json']);
    await killed.stop('SIGKILL');
    // Act
    const r = await runOssferry(['local', 'event', 'put', 'oss://ossferry/k', '--data-dir', killedDir]);
    // Assess
    expect(existsSync(path.join(killedDir, 'local-cloud.json'))).toBe(true);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data-dir: the local cloud that wrote .*local-cloud\.json \(pid \d+\) is no longer running\. Fix: start one/);
  });

  it('without --json prints a readable summary with the event put command, serves --source-root over HTTP, and SIGTERM closes it (exit 0)', async () => {
    // Prepare
    const rulesJson = JSON.stringify(rules);
    const served = path.join(dir, 'served');
    await mkdir(served);
    await writeFile(path.join(served, 'hello.txt'), 'hello from the HTTP source\n');
    // Act
    const human = await startOssferry(['local', 'cloud', '--archive-rules', rulesJson, '--bucket', 'mine', '--source-root', served], {}, undefined, /^ {2}try: /);
    const origin = /HTTP source +(http:\/\/127\.0\.0\.1:\d+) serving /.exec(human.stdout())?.[1];
    const fetched = await (await fetch(`${origin}/hello.txt`)).text();
    const stopped = await human.stop('SIGTERM');
    // Assess
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(fetched).toBe('hello from the HTTP source\n');
    expect(stopped.stdout).toMatch(/^ossferry local cloud is up; Ctrl-C stops it$/m);
    expect(stopped.stdout).toMatch(/OSS endpoint +http:\/\/127\.0\.0\.1:\d+ \(region cn-hangzhou\)/);
    expect(stopped.stdout).toMatch(/buckets +mine, logs-src, logs-dst, ossferry-status/);
    expect(stopped.stdout).toMatch(/archive rules +logs: oss:\/\/logs-src\/incoming\/… → oss:\/\/logs-dst\/archive\/….gz \(gzip level 2\)/);
    const tmpDir = /data dir +(\S+) /.exec(stopped.stdout)![1]!;
    expect(stopped.stdout).toContain(`ossferry local event put oss://logs-src/incoming/<key> --data-dir ${tmpDir}`);
    // Without --data-dir the data lives in a temp dir removed at exit.
    expect(existsSync(tmpDir)).toBe(false);
    expect(stopped.stderr).toMatch(/SIGTERM: shutting the local cloud down/);
  });
});
