import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { HttpSource } from '../../functions/sources/http.ts';
import { openSource } from '../../functions/sources/index.ts';
import { SourceRefusedError, type Resolver } from '../../functions/sources/screen.ts';
import { SourceChangedError } from '../../functions/sources/types.ts';

async function collect(stream: Readable): Promise<{ data: Buffer; chunks: number[] }> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { data: Buffer.concat(parts), chunks: parts.map((p) => p.length) };
}

const MiB = 1024 * 1024;
const loopback = parseAllowList('127.0.0.1');

describe('HTTP source against local/http-source', () => {
  let server: HttpSourceServer;
  const data = randomBytes(5 * MiB + 12345);

  beforeAll(async () => {
    server = await startHttpSourceServer({ files: { '/big.bin': data, '/empty.bin': new Uint8Array(0) } });
  });
  afterAll(() => server.close());

  it('stat() returns size and strong ETag', async () => {
    // Prepare
    const src = new HttpSource(server.url('/big.bin'), { allow: loopback });
    // Act
    const id = await src.stat();
    await src.close();
    // Assess
    expect(id.size).toBe(data.length);
    expect(id.etag).toBe(server.etagOf('/big.bin'));
    expect(id.mtimeMs).toBeTypeOf('number');
  });

  it('reads exact ranges, pinned with If-Match and If-Range', async () => {
    // Prepare
    const src = new HttpSource(server.url('/big.bin'), { allow: loopback });
    const pin = await src.stat();
    const ranges = [[0, 1], [1, 102_400], [MiB - 3, 3 * MiB + 7], [data.length - 10, data.length], [0, data.length]] as const;
    // Act
    const got = await Promise.all(ranges.map(async ([s, e]) => (await collect(await src.read(s, e, pin))).data));
    await src.close();
    // Assess
    ranges.forEach(([s, e], i) => expect(got[i]!.equals(data.subarray(s, e))).toBe(true));
    const gets = server.requests.filter((r) => r.method === 'GET' && r.path === '/big.bin');
    expect(gets.every((r) => r.ifMatch === pin.etag && r.ifRange === pin.etag && r.range?.startsWith('bytes='))).toBe(true);
  });

  it('delivers large chunks (≥ 1 MiB except the last), never socket-sized reads', async () => {
    // Prepare
    const src = new HttpSource(server.url('/big.bin'), { allow: loopback });
    const pin = await src.stat();
    // Act
    const { chunks, data: got } = await collect(await src.read(0, data.length, pin));
    await src.close();
    // Assess
    expect(got.length).toBe(data.length);
    expect(chunks.slice(0, -1).every((n) => n >= MiB)).toBe(true);
  });

  it('changed file → SourceChangedError (412 via If-Match)', async () => {
    // Prepare
    server.setFile('/changing.bin', randomBytes(300_000));
    const src = new HttpSource(server.url('/changing.bin'), { allow: loopback });
    const pin = await src.stat();
    server.mutateFile('/changing.bin', 5);
    // Act
    const act = src.read(0, 1000, pin);
    // Assess
    await expect(act).rejects.toBeInstanceOf(SourceChangedError);
    await src.close();
    expect(server.requests.at(-1)!.status).toBe(412);
  });

  it('changed file on a server that ignores If-Match → 200 via If-Range → SourceChangedError', async () => {
    // Prepare: a pin without ETag (servers with weak ETags): pinned by Last-Modified, If-Range carries the date
    server.setFile('/lm.bin', randomBytes(200_000));
    const src = new HttpSource(server.url('/lm.bin'), { allow: loopback });
    const { mtimeMs, size } = await src.stat();
    server.mutateFile('/lm.bin');
    // Act
    const act = src.read(10, 100, { size, mtimeMs: mtimeMs! });
    // Assess
    await expect(act).rejects.toThrow(/200 instead of 206/);
    await src.close();
    const last = server.requests.at(-1)!;
    expect(last.ifRange).toBeDefined();
    expect(last.status).toBe(200);
  });

  it('a pinned size beyond the file is refused before reading', async () => {
    // Prepare
    const src = new HttpSource(server.url('/big.bin'), { allow: loopback });
    const pin = await src.stat();
    // Act
    const act = src.read(0, pin.size + 1, pin);
    // Assess
    await expect(act).rejects.toBeInstanceOf(InvalidInputError);
    await src.close();
  });

  it('empty file: size 0 and an empty read', async () => {
    // Prepare
    const src = new HttpSource(server.url('/empty.bin'), { allow: loopback });
    // Act
    const pin = await src.stat();
    const { data: got } = await collect(await src.read(0, 0, pin));
    await src.close();
    // Assess
    expect(pin.size).toBe(0);
    expect(got.length).toBe(0);
  });

  it('missing file at stat → InvalidInputError naming source', async () => {
    // Prepare
    const src = new HttpSource(server.url('/nope.bin'), { allow: loopback });
    // Act
    const act = src.stat();
    // Assess
    await expect(act).rejects.toThrow(/^source: .*not found \(404\)/);
    await src.close();
  });
});

describe('SSRF screening refuses before any connection', () => {
  let server: HttpSourceServer;
  beforeAll(async () => {
    server = await startHttpSourceServer({ files: { '/f.bin': randomBytes(1000) } });
  });
  afterAll(() => server.close());

  const recordingResolver = (answer: string[]) => {
    const lookups: string[] = [];
    const resolver: Resolver = async (host) => {
      lookups.push(host);
      return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return { lookups, resolver };
  };

  it.each([
    ['loopback literal', (port: number) => `http://127.0.0.1:${port}/f.bin`, []],
    ['IPv6 loopback literal', (port: number) => `http://[::1]:${port}/f.bin`, []],
    ['IPv4-mapped loopback', (port: number) => `http://[::ffff:127.0.0.1]:${port}/f.bin`, []],
    ['name resolving to loopback', (port: number) => `http://files.test:${port}/f.bin`, ['127.0.0.1']],
    ['name resolving to public and private', (port: number) => `http://mixed.test:${port}/f.bin`, ['8.8.8.8', '127.0.0.1']],
    ['metadata service', () => 'http://100.100.100.200/latest/meta-data/', []],
    ['link-local', () => 'http://169.254.169.254/', []],
    ['private 10/8 by name', () => 'http://intranet.test/', ['10.0.0.5']],
    ['CGNAT', () => 'http://100.64.1.1/', []],
    ['unique-local IPv6', () => 'http://[fd00::1]/', []],
  ])('%s', async (_name, urlFor, answer) => {
    // Prepare
    const before = server.connections;
    const { resolver } = recordingResolver(answer);
    const src = new HttpSource(urlFor(server.port), { allow: parseAllowList(undefined), resolver });
    // Act
    const act = src.stat();
    // Assess
    await expect(act).rejects.toBeInstanceOf(SourceRefusedError);
    await expect(act).rejects.toThrow(/^source: host .* which sources may not reach\. Fix: /);
    await src.close();
    expect(server.connections).toBe(before);
  });

  it('allow-list by host name lets a loopback source through, connecting to the screened address only', async () => {
    // Prepare
    const { lookups, resolver } = recordingResolver(['127.0.0.1']);
    const src = new HttpSource(`http://files.test:${server.port}/f.bin`, { allow: parseAllowList('files.test'), resolver });
    const before = server.connections;
    // Act
    const id = await src.stat();
    const pin = id;
    await collect(await src.read(0, 10, pin));
    await collect(await src.read(10, 20, pin));
    await src.close();
    // Assess
    expect(id.size).toBe(1000);
    expect(lookups).toEqual(['files.test']);
    expect(server.connections).toBeGreaterThan(before);
  });

  it('refuses non-HTTP schemes without resolving', () => {
    // Act
    const act = () => new HttpSource('file:///etc/passwd', { allow: loopback });
    // Assess
    expect(act).toThrow(/^source: scheme file: is not HTTP/);
  });

  it('re-screens redirect targets: a redirect to the metadata service is refused', async () => {
    // Prepare: an allowed origin that redirects to 100.100.100.200
    const http = await import('node:http');
    const redirector = http.createServer((_req, res) => {
      res.writeHead(302, { location: 'http://100.100.100.200/latest/meta-data/ram/security-credentials/' });
      res.end();
    });
    await new Promise<void>((ok) => redirector.listen(0, '127.0.0.1', ok));
    const port = (redirector.address() as { port: number }).port;
    const src = new HttpSource(`http://127.0.0.1:${port}/x`, { allow: loopback });
    // Act
    const act = src.stat();
    // Assess
    await expect(act).rejects.toThrow(/100\.100\.100\.200 \(metadata\)/);
    await src.close();
    redirector.close();
  });
});

describe('OSS source against local OSS', () => {
  let oss: LocalOss;
  let client: OSS;
  const data = randomBytes(700_000);

  beforeAll(async () => {
    oss = await startOssServer({ buckets: ['src-bucket'] });
    client = new OSS(oss.clientOptions('src-bucket'));
    await client.put('dir/obj.bin', data);
  });
  afterAll(() => oss.close());

  it('stat() returns size, ETag and the whole-object CRC-64; ranges read exactly', async () => {
    // Prepare
    const src = openSource('oss://src-bucket/dir/obj.bin', { ossClientFor: () => client });
    // Act
    const pin = await src.stat();
    const a = (await collect(await src.read(0, 102_400, pin))).data;
    const b = (await collect(await src.read(102_400, data.length, pin))).data;
    // Assess
    expect(pin.size).toBe(data.length);
    expect(pin.crc64).toBe(crc64(data));
    expect(pin.etag).toMatch(/^"[0-9A-F]+"$/);
    expect(Buffer.concat([a, b]).equals(data)).toBe(true);
  });

  it('object replaced after stat → SourceChangedError', async () => {
    // Prepare
    await client.put('dir/changing.bin', randomBytes(200_000));
    const src = openSource('oss://src-bucket/dir/changing.bin', { ossClientFor: () => client });
    const pin = await src.stat();
    await client.put('dir/changing.bin', randomBytes(200_000));
    // Act
    const act = src.read(0, 1000, pin);
    // Assess
    await expect(act).rejects.toBeInstanceOf(SourceChangedError);
  });

  it('delivers chunks of 1 MiB (none below 256 KiB but the last), not ali-oss socket reads', async () => {
    // Prepare
    const big = randomBytes(5 * MiB + 777);
    await client.put('dir/big.bin', big);
    const src = openSource('oss://src-bucket/dir/big.bin', { ossClientFor: () => client });
    const pin = await src.stat();
    // Act
    const { chunks, data: got } = await collect(await src.read(3, big.length, pin));
    // Assess
    expect(got.equals(big.subarray(3))).toBe(true);
    expect(chunks.slice(0, -1).every((n) => n >= MiB)).toBe(true);
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil((big.length - 3) / MiB));
  });

  it('an OSS signed URL read as an HTTP source carries the object CRC-64 into the identity', async () => {
    // Prepare
    const signer = new OSS(oss.clientOptions('src-bucket', { pathStyle: true }));
    const url = signer.signatureUrl('dir/obj.bin', { expires: 600 });
    const src = new HttpSource(url, { allow: parseAllowList('localhost') });
    // Act
    const pin = await src.stat();
    const got = (await collect(await src.read(100, 5000, pin))).data;
    await src.close();
    // Assess
    expect(pin.crc64).toBe(crc64(data));
    expect(got.equals(data.subarray(100, 5000))).toBe(true);
  });

  it('missing object at stat → InvalidInputError naming source', async () => {
    // Prepare
    const src = openSource('oss://src-bucket/nope', { ossClientFor: () => client });
    // Act
    const act = src.stat();
    // Assess
    await expect(act).rejects.toThrow(/^source: oss:\/\/src-bucket\/nope does not exist/);
  });
});

describe('openSource', () => {
  it.each([
    ['ftp://h/f', /^source: scheme ftp: is not supported/],
    ['not a url', /^source: is not a URL/],
    ['oss://b', /^source: has no object key/],
  ])('refuses %s naming source', (url, message) => {
    // Act
    const act = () => openSource(url, { allow: loopback });
    // Assess
    expect(act).toThrow(message);
  });
});
