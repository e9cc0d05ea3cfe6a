/**
 * The local HTTP source's shaping options (time to first byte, per-connection cap), checked on a virtual clock:
 * what the server waits for and in which order, never how long a request took.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { startHttpSourceServer, type ShapingClock } from '../../local/http-source/index.ts';

/** A clock that moves only when the server sleeps; each sleep is recorded and may be held by a gate. */
function virtualClock(gate?: (ms: number) => Promise<void>): ShapingClock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      await gate?.(ms);
      now += ms;
    },
  };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; events: string[] }> {
  const events: string[] = [];
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      events.push('head');
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), events }));
    });
    req.on('error', reject);
  });
}

describe('local HTTP source shaping', () => {
  it('latencyMs: the response head is sent only after the server waited latencyMs', async () => {
    // Prepare: the server's latency sleep is held until the test releases it
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const clock = virtualClock(async (ms) => {
      order.push(`sleep ${ms}`);
      await held;
    });
    const data = randomBytes(1000);
    const src = await startHttpSourceServer({ files: { '/a.bin': data }, latencyMs: 30, clock });
    try {
      // Act
      const answer = get(src.url('/a.bin')).then((r) => {
        order.push('head received');
        return r;
      });
      await new Promise((r) => setTimeout(r, 20));
      order.push('released');
      release();
      const r = await answer;
      // Assess
      expect(order).toEqual(['sleep 30', 'released', 'head received']);
      expect(clock.sleeps).toEqual([30]);
      expect(Buffer.compare(r.body, data)).toBe(0);
    } finally {
      await src.close();
    }
  });

  it('bandwidthBytesPerSecond: the body goes out in 64 KiB writes, each waiting what the token bucket asks; bytes intact', async () => {
    // Prepare: 1 MiB at 256 KiB/s; the burst (64 KiB) goes at once, then 250 ms per 64 KiB
    const clock = virtualClock();
    const data = randomBytes(1024 * 1024);
    const src = await startHttpSourceServer({ files: { '/a.bin': data }, bandwidthBytesPerSecond: 256 * 1024, clock });
    try {
      // Act
      const r = await get(src.url('/a.bin'), { range: 'bytes=0-1048575' });
      // Assess
      expect(r.status).toBe(206);
      expect(Buffer.compare(r.body, data)).toBe(0);
      expect(clock.sleeps).toEqual(Array.from({ length: 15 }, () => 250));
    } finally {
      await src.close();
    }
  });

  it('the cap is per connection: a second connection starts with its own full bucket', async () => {
    // Prepare
    const clock = virtualClock();
    const data = randomBytes(64 * 1024);
    const src = await startHttpSourceServer({ files: { '/a.bin': data }, bandwidthBytesPerSecond: 256 * 1024, clock });
    try {
      // Act: two requests on two connections (agent: false), each within one burst
      await get(src.url('/a.bin'));
      await get(src.url('/a.bin'));
      // Assess
      expect(clock.sleeps).toEqual([]);
      expect(src.connections).toBe(2);
    } finally {
      await src.close();
    }
  });

  it('files on disk are capped the same way', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-shaping-'));
    const data = randomBytes(256 * 1024);
    await writeFile(path.join(dir, 'd.bin'), data);
    const clock = virtualClock();
    const src = await startHttpSourceServer({ root: dir, bandwidthBytesPerSecond: 128 * 1024, latencyMs: 20, clock });
    try {
      // Act
      const r = await get(src.url('/d.bin'));
      // Assess: latency first, then 3 × 64 KiB beyond the burst at 500 ms each
      expect(Buffer.compare(r.body, data)).toBe(0);
      expect(clock.sleeps).toEqual([20, 500, 500, 500]);
    } finally {
      await src.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ latencyMs: -1 }, /^latencyMs: /],
    [{ latencyMs: 1.5 }, /^latencyMs: /],
    [{ bandwidthBytesPerSecond: 0 }, /^bandwidthBytesPerSecond: /],
  ])('refuses %j naming the option', async (shaping, message) => {
    // Act
    const act = startHttpSourceServer(shaping);
    // Assess
    await expect(act).rejects.toBeInstanceOf(InvalidInputError);
    await expect(act).rejects.toThrow(message);
  });
});
