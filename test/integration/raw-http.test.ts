/**
 * The raw transport of plain-http ranged reads (functions/sources/raw-http.ts, used by HttpSource.read):
 * keep-alive reuse, fallback to node:http for responses not framed by Content-Length, a body cut mid-way,
 * an abort mid-body, a kept-alive connection the server closed while idle, heads split across packets and
 * interim 1xx responses. Servers: local/http-source and hand-written loopback TCP servers.
 */
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowList } from '../../shared/ssrf.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { HttpSource } from '../../functions/sources/http.ts';
import { SourceAbortedError } from '../../functions/sources/raw-http.ts';
import { SourceUnavailableError } from '../../functions/sources/types.ts';

const MiB = 1024 * 1024;
const loopback = parseAllowList('127.0.0.1');

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A loopback TCP server answering each request (one per connection data burst) with `answer(head)`. */
async function tcpServer(answer: (socket: net.Socket, head: string, n: number) => void): Promise<{ url: (p: string) => string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      let at: number;
      while ((at = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, at);
        pending = pending.slice(at + 4);
        answer(socket, head, requests++);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/** The head of a 206 answer to the request head `head` (its "range: bytes=a-b") over `data`: Content-Length framed, or chunked. */
function partialHead(data: Buffer, head: string, framing: 'length' | 'chunked' = 'length'): { start: number; end: number; text: string } {
  const m = /range: bytes=(\d+)-(\d+)/i.exec(head)!;
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  const frame = framing === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${end - start}`;
  const lines = ['HTTP/1.1 206 Partial Content', `content-range: bytes ${start}-${end - 1}/${data.length}`, 'etag: "v1"', frame];
  return { start, end, text: lines.join('\r\n') + '\r\n\r\n' };
}

describe('raw transport against local/http-source', () => {
  let server: HttpSourceServer;
  const data = randomBytes(3 * MiB + 777);
  beforeAll(async () => {
    server = await startHttpSourceServer({ files: { '/f.bin': data } });
  });
  afterAll(() => server.close());

  it('reuses one kept-alive connection for sequential ranged reads, bytes exact', async () => {
    // Prepare
    const src = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const pin = await src.stat();
    const before = server.connections;
    const ranges = [[0, MiB], [MiB, 2 * MiB + 5], [2 * MiB + 5, data.length], [7, 9]] as const;
    // Act
    const got: Buffer[] = [];
    for (const [s, e] of ranges) got.push(await collect(await src.read(s, e, pin)));
    await src.close();
    // Assess
    ranges.forEach(([s, e], i) => expect(got[i]!.equals(data.subarray(s, e))).toBe(true));
    expect(server.connections - before).toBe(1);
  });

  it('reuses the memory of released chunks for later reads and never overwrites chunks still held', async () => {
    // Prepare
    const src = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const pin = await src.stat();
    const chunksOf = async (s: number, e: number) => {
      const body = await src.read(s, e, pin);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      return { body: body as Readable & { releaseChunk(c: Uint8Array): void }, chunks };
    };
    // Act
    const held = await chunksOf(0, 2 * MiB);
    const released = await chunksOf(MiB, 3 * MiB);
    for (const c of released.chunks) released.body.releaseChunk(c);
    const later = await chunksOf(2 * MiB, data.length);
    await src.close();
    // Assess
    expect(Buffer.concat(held.chunks).equals(data.subarray(0, 2 * MiB))).toBe(true);
    expect(Buffer.concat(later.chunks).equals(data.subarray(2 * MiB))).toBe(true);
    const freed = new Set(released.chunks.map((c) => c.buffer));
    expect(later.chunks.some((c) => freed.has(c.buffer))).toBe(true);
    expect(later.chunks.some((c) => held.chunks.some((h) => h.buffer === c.buffer))).toBe(false);
  });

  it('a source opened later (the next task) reuses the read buffers an earlier, closed one released', async () => {
    // Prepare
    const chunksOf = async (src: HttpSource, s: number, e: number) => {
      const body = (await src.read(s, e, await src.stat())) as Readable & { releaseChunk(c: Uint8Array): void };
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      return { body, chunks };
    };
    const first = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const done = await chunksOf(first, 0, 2 * MiB);
    for (const c of done.chunks) done.body.releaseChunk(c);
    await first.close();
    // Act
    const second = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const later = await chunksOf(second, MiB, 3 * MiB);
    await second.close();
    // Assess
    const freed = new Set(done.chunks.map((c) => c.buffer));
    expect(later.chunks.some((c) => freed.has(c.buffer))).toBe(true);
    expect(Buffer.concat(later.chunks).equals(data.subarray(MiB, 3 * MiB))).toBe(true);
  });

  it('a body cut mid-way errors the stream with SourceUnavailableError; the next read succeeds on a new connection', async () => {
    // Prepare
    const src = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const pin = await src.stat();
    server.setFaults({ dropAfterBytes: 100_000, count: 1 });
    // Act
    const cut = await src.read(0, 2 * MiB, pin).then(collect).catch((e: unknown) => e);
    const again = await collect(await src.read(0, 2 * MiB, pin));
    await src.close();
    // Assess
    expect(cut).toBeInstanceOf(SourceUnavailableError);
    expect(again.equals(data.subarray(0, 2 * MiB))).toBe(true);
  });

  it('an abort mid-body errors the stream with SourceAbortedError (code Aborted)', async () => {
    // Prepare
    const src = new HttpSource(server.url('/f.bin'), { allow: loopback });
    const pin = await src.stat();
    const ac = new AbortController();
    const body = await src.read(0, data.length, pin, ac.signal);
    // Act
    const outcome = new Promise<unknown>((resolve) => {
      body.once('data', () => ac.abort(new Error('stop')));
      body.on('error', resolve);
      body.on('end', () => resolve('ended'));
      body.resume();
    });
    const err = await outcome;
    await src.close();
    // Assess
    expect(err).toBeInstanceOf(SourceAbortedError);
    expect((err as SourceAbortedError).code).toBe('Aborted');
  });
});

describe('raw transport against hand-written servers', () => {
  const data = randomBytes(300_000);
  const pin = { size: data.length, etag: '"v1"' };

  it('falls back to node:http for a chunked 206 answer, bytes exact', async () => {
    // Prepare
    const srv = await tcpServer((socket, head) => {
      const { start, end, text } = partialHead(data, head, 'chunked');
      const body = data.subarray(start, end);
      socket.write(text);
      socket.write(`${body.length.toString(16)}\r\n`);
      socket.write(body);
      socket.write('\r\n0\r\n\r\n');
    });
    const src = new HttpSource(srv.url('/c.bin'), { allow: loopback });
    // Act
    const first = await collect(await src.read(10, 200_010, pin));
    const second = await collect(await src.read(0, data.length, pin));
    await src.close();
    await srv.close();
    // Assess
    expect(first.equals(data.subarray(10, 200_010))).toBe(true);
    expect(second.equals(data)).toBe(true);
  });

  it('a slow body reaches the consumer before a whole read buffer fills: bytes that waited are pushed with the next read', async () => {
    // Prepare: 128 KiB in two writes 20 ms apart, then nothing more until the consumer has had a chunk
    let release!: () => void;
    const consumerHasBytes = new Promise<void>((r) => (release = r));
    const srv = await tcpServer((socket, head) => {
      const { start, end, text } = partialHead(data, head);
      const body = data.subarray(start, end);
      socket.write(Buffer.concat([Buffer.from(text, 'latin1'), body.subarray(0, 64 * 1024)]));
      setTimeout(() => socket.write(body.subarray(64 * 1024, 128 * 1024)), 20);
      void consumerHasBytes.then(() => socket.write(body.subarray(128 * 1024)));
    });
    const src = new HttpSource(srv.url('/slow.bin'), { allow: loopback, flushAfterMs: 10 });
    // Act
    const body = await src.read(0, data.length, pin);
    const chunks: Buffer[] = [];
    for await (const c of body) {
      chunks.push(c as Buffer);
      release();
    }
    await src.close();
    await srv.close();
    // Assess
    expect(chunks[0]!.length).toBeLessThanOrEqual(128 * 1024);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('reads a head split across packets after an interim 100, with body bytes in the head packet', async () => {
    // Prepare
    const srv = await tcpServer((socket, head) => {
      const { start, end, text } = partialHead(data, head);
      const body = data.subarray(start, end);
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2');
      setTimeout(() => {
        socket.write(Buffer.concat([Buffer.from(text.slice(10), 'latin1'), body.subarray(0, 1000)]));
        setTimeout(() => socket.write(body.subarray(1000)), 5);
      }, 5);
    });
    const src = new HttpSource(srv.url('/s.bin'), { allow: loopback });
    // Act
    const got = await collect(await src.read(5, 250_005, pin));
    await src.close();
    await srv.close();
    // Assess
    expect(got.equals(data.subarray(5, 250_005))).toBe(true);
  });

  it('a kept-alive connection the server closed while idle is replaced: the read succeeds', async () => {
    // Prepare: the server answers each connection's first request, then closes it once idle.
    const srv = await tcpServer((socket, head) => {
      const { start, end, text } = partialHead(data, head);
      socket.write(Buffer.concat([Buffer.from(text, 'latin1'), data.subarray(start, end)]), () => setTimeout(() => socket.end(), 5));
    });
    const src = new HttpSource(srv.url('/k.bin'), { allow: loopback });
    const first = await collect(await src.read(0, 1000, pin));
    await new Promise((r) => setTimeout(r, 50));
    // Act
    const second = await collect(await src.read(1000, 101_000, pin));
    await src.close();
    await srv.close();
    // Assess
    expect(first.equals(data.subarray(0, 1000))).toBe(true);
    expect(second.equals(data.subarray(1000, 101_000))).toBe(true);
    expect(srv.connections()).toBe(2);
  });

  it('bytes sent on an idle kept-alive connection discard it: the next read gets its own answer, never the forged one', async () => {
    // Prepare: once the client has read the first answer, the server sends a forged 206 for the range asked next.
    const forged = Buffer.alloc(100_000, 0x41);
    let firstSocket!: net.Socket;
    const srv = await tcpServer((socket, head, n) => {
      if (n === 0) firstSocket = socket;
      const { start, end, text } = partialHead(data, head);
      socket.write(Buffer.concat([Buffer.from(text, 'latin1'), data.subarray(start, end)]));
    });
    const src = new HttpSource(srv.url('/d.bin'), { allow: loopback });
    const first = await collect(await src.read(0, 1000, pin));
    const closed = new Promise<boolean>((ok) => firstSocket.once('close', () => ok(true)));
    const lie = ['HTTP/1.1 206 Partial Content', `content-range: bytes 1000-100999/${data.length}`, 'etag: "v1"', `content-length: ${forged.length}`].join('\r\n');
    firstSocket.write(Buffer.concat([Buffer.from(`${lie}\r\n\r\n`, 'latin1'), forged]));
    // The client must drop the connection on its own once the unsolicited bytes arrive (bounded, so a regression fails).
    const dropped = await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
    // Act
    const second = await collect(await src.read(1000, 101_000, pin));
    await src.close();
    await srv.close();
    // Assess
    expect(first.equals(data.subarray(0, 1000))).toBe(true);
    expect(dropped).toBe(true);
    expect(second.equals(data.subarray(1000, 101_000))).toBe(true);
    expect(srv.connections()).toBe(2);
  });
});
