/**
 * OSS limits and timeouts as OSS applies them: object keys up to 1023 bytes (longer → 400 InvalidObjectName,
 * nothing stored), a request body that stalls or trickles → 400 RequestTimeout and the connection closed (no
 * object, no temp file), a client that stops reading a response is cut off, and ListParts carries each part's
 * CRC-64 (HashCrc64ecma), which part-level resume compares.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc64 } from '../../../shared/crc64/index.ts';
import { crc64ToWire } from '../../../shared/crc64/wire.ts';
import { startOssServer, type LocalOss, type OssServerOptions } from '../../../local/oss/index.ts';
import { bytes, client, errorOf } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function start(o: OssServerOptions = {}): Promise<LocalOss> {
  const s = await startOssServer({ buckets: ['lim-b'], allowAnonymous: true, ...o });
  cleanups.push(() => s.close());
  return s;
}

/** Key of exactly `n` UTF-8 bytes, with two-byte characters so bytes ≠ UTF-16 length. */
const keyOfBytes = (n: number) => 'dir/' + 'é'.repeat(Math.floor((n - 4) / 2)) + 'k'.repeat((n - 4) % 2);

/**
 * A raw anonymous request on its own socket: headers, then `parts` written one by one `gapMs` apart (no more
 * writes once the server answered). Resolves with everything the server sent and whether it closed the socket.
 */
function rawRequest(s: LocalOss, head: string, parts: Buffer[], gapMs: number): Promise<{ response: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(s.port, '127.0.0.1');
    let response = '';
    let answered = false;
    sock.on('data', (d) => {
      response += d.toString('latin1');
      answered = true;
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve({ response, closedByServer: true }));
    sock.once('connect', async () => {
      sock.write(head);
      for (const p of parts) {
        if (answered || sock.destroyed) break;
        sock.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      if (!answered && !sock.destroyed) {
        // Every part sent and no answer: give the server one more gap, then report what we have.
        setTimeout(() => {
          if (!sock.destroyed) {
            sock.destroy();
            resolve({ response, closedByServer: false });
          }
        }, gapMs * 4);
      }
    });
  });
}

/** The temp dir's entries once the server has cleaned up after a cut request (it does so asynchronously). */
async function tmpEmptied(s: LocalOss): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const left = await readdir(path.join(s.dataDir, 'tmp'));
    if (left.length === 0) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
  return readdir(path.join(s.dataDir, 'tmp'));
}

const putHead = (key: string, length: number, connection = 'keep-alive') =>
  `PUT /${key} HTTP/1.1\r\nHost: lim-b.oss-cn-hangzhou.aliyuncs.com\r\nContent-Length: ${length}\r\nConnection: ${connection}\r\n\r\n`;

describe('key length', () => {
  it('1023-byte keys are stored; 1024-byte keys → 400 InvalidObjectName for Put, Initiate, Append and Copy, nothing stored', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'lim-b');
    const ok = keyOfBytes(1023);
    const tooLong = keyOfBytes(1024);
    await c.put('src.bin', Buffer.from('src'));
    // Act
    await c.put(ok, Buffer.from('fits'));
    const got = await c.get(ok);
    const put = await errorOf(() => c.put(tooLong, Buffer.from('x')));
    const init = await errorOf(() => c.initMultipartUpload(tooLong));
    const append = await errorOf(() => c.append(tooLong, Buffer.from('x')));
    const copy = await errorOf(() => c.copy(tooLong, 'src.bin'));
    const list = await c.list({ 'max-keys': 1000 });
    const uploads = await c.listUploads({});
    // Assess
    expect(Buffer.byteLength(ok)).toBe(1023);
    expect(Buffer.byteLength(tooLong)).toBe(1024);
    expect(got.content.toString()).toBe('fits');
    for (const e of [put, init, append, copy]) {
      expect(e.status).toBe(400);
      expect(e.code).toBe('InvalidObjectName');
    }
    expect(list.objects.map((o: { name: string }) => o.name).sort()).toEqual([ok, 'src.bin'].sort());
    expect(uploads.uploads ?? []).toHaveLength(0);
  });
});

describe('timeouts', () => {
  it('a body that stalls → 400 RequestTimeout, connection closed, no object and no temp file', async () => {
    // Prepare
    const s = await start({ idleTimeoutMs: 300 });
    // Act
    const r = await rawRequest(s, putHead('stalled.bin', 100_000), [bytes(1000, 1)], 2000);
    const head = await errorOf(() => client(s, 'lim-b').head('stalled.bin'));
    const tmp = await tmpEmptied(s);
    // Assess
    expect(r.response).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.response).toContain('<Code>RequestTimeout</Code>');
    expect(r.closedByServer).toBe(true);
    expect(head.status).toBe(404);
    expect(tmp).toEqual([]);
  });

  it('a body that trickles (never idle, never done) → 400 RequestTimeout once the body timeout passes', async () => {
    // Prepare
    const s = await start({ idleTimeoutMs: 5_000, bodyTimeoutMs: 600 });
    const trickle = Array.from({ length: 200 }, () => Buffer.from('x'));
    // Act
    const r = await rawRequest(s, putHead('trickle.bin', 1000), trickle, 50);
    const head = await errorOf(() => client(s, 'lim-b').head('trickle.bin'));
    // Assess
    expect(r.response).toContain('<Code>RequestTimeout</Code>');
    expect(r.closedByServer).toBe(true);
    expect(head.status).toBe(404);
  });

  it('a client that stops reading a response is disconnected after the idle timeout; the server keeps serving', async () => {
    // Prepare
    const s = await start({ idleTimeoutMs: 300 });
    const c = client(s, 'lim-b');
    await c.put('big.bin', bytes(32 * 1024 * 1024, 4));
    // Act: stop reading well past the idle timeout, then read on: a cut connection ends early.
    const outcome = await new Promise<{ closed: boolean; received: number }>((resolve) => {
      let received = 0;
      const sock = net.connect(s.port, '127.0.0.1', () => {
        sock.write('GET /big.bin HTTP/1.1\r\nHost: lim-b.oss-cn-hangzhou.aliyuncs.com\r\n\r\n');
        sock.pause();
        setTimeout(() => sock.resume(), 1500);
      });
      sock.on('data', (d: Buffer) => (received += d.length));
      sock.on('error', () => {});
      sock.on('close', () => resolve({ closed: true, received }));
      setTimeout(() => {
        sock.destroy();
        resolve({ closed: false, received });
      }, 8000);
    });
    const after = await c.head('big.bin');
    // Assess
    expect(outcome.closed).toBe(true);
    expect(outcome.received).toBeLessThan(32 * 1024 * 1024);
    expect(after.res.status).toBe(200);
  });

  it('time the server spends itself (injected latency longer than the idle timeout) is not idleness', async () => {
    // Prepare
    const s = await start({ idleTimeoutMs: 200, faults: { operations: { PutObject: { latencyMs: 700 } } } });
    const c = client(s, 'lim-b');
    const data = bytes(4 * 1024 * 1024, 6);
    // Act
    await c.put('patient.bin', data);
    const got = await c.get('patient.bin');
    // Assess
    expect(Buffer.compare(got.content, data)).toBe(0);
  });

  it('an idle timeout does not cut a slow body that keeps arriving', async () => {
    // Prepare
    const s = await start({ idleTimeoutMs: 400 });
    const parts = Array.from({ length: 10 }, (_v, i) => bytes(100, i + 1));
    // Act
    const r = await rawRequest(s, putHead('slow.bin', 1000, 'close'), parts, 100);
    const got = await client(s, 'lim-b').get('slow.bin');
    // Assess
    expect(r.response).toMatch(/^HTTP\/1\.1 200 /);
    expect(Buffer.compare(got.content, Buffer.concat(parts))).toBe(0);
  });
});

describe('ListParts', () => {
  it('returns each part\'s CRC-64 as HashCrc64ecma, also after a restart', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-oss-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const creds = { accessKeyId: 'LTAIlistparts', accessKeySecret: 'listparts-secret', dataDir: dir };
    const first = await startOssServer({ buckets: ['lim-b'], ...creds });
    const c = client(first, 'lim-b');
    const a = bytes(200_000, 7);
    const b = bytes(1234, 8);
    const init = await c.initMultipartUpload('mp.bin');
    await c.uploadPart('mp.bin', init.uploadId, 1, a, 0, a.length);
    await c.uploadPart('mp.bin', init.uploadId, 2, b, 0, b.length);
    // Act
    const before = await c.listParts('mp.bin', init.uploadId);
    await first.close();
    const second = await start(creds);
    const after = await client(second, 'lim-b').listParts('mp.bin', init.uploadId);
    // Assess
    const crcsOf = (r: { parts: unknown }) => [r.parts].flat().map((p) => [(p as { PartNumber: string }).PartNumber, (p as { HashCrc64ecma: string }).HashCrc64ecma]);
    const want = [
      ['1', crc64ToWire(crc64(a))],
      ['2', crc64ToWire(crc64(b))],
    ];
    expect(crcsOf(before)).toEqual(want);
    expect(crcsOf(after)).toEqual(want);
  });
});
