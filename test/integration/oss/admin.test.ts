/**
 * The local OSS admin API is sealed off from OSS traffic: it has its own loopback port and a token printed at
 * start, refuses browser-shaped requests (an Origin header, a simple-request content type), and a user key under
 * any prefix (`_ossferry/…` included) is an ordinary object.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { client } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function start(): Promise<LocalOss> {
  const s = await startOssServer({ buckets: ['adm-b'] });
  cleanups.push(() => s.close());
  return s;
}

interface Reply {
  status: number;
  contentType: string;
  json: unknown;
}

/** One request to `port`, any headers (no Authorization unless given). */
function request(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(t);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const adminPort = (s: LocalOss) => Number(new URL(s.admin.endpoint).port);
const bearer = (s: LocalOss) => ({ authorization: `Bearer ${s.admin.token}` });

describe('admin API', () => {
  it('user keys _ossferry/health and _ossferry/faults are stored and read back like any other key', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'adm-b'); // IP endpoint: the request path is /_ossferry/health
    // Act
    await c.put('_ossferry/health', Buffer.from('my health'));
    await c.put('_ossferry/faults', Buffer.from(JSON.stringify({ all: { errorRate: 1 } })));
    const health = await c.get('_ossferry/health');
    const faults = await c.get('_ossferry/faults');
    const list = await c.list({ prefix: '_ossferry/' });
    // Assess
    expect(health.content.toString()).toBe('my health');
    expect(JSON.parse(faults.content.toString())).toEqual({ all: { errorRate: 1 } });
    expect(list.objects.map((o: { name: string }) => o.name)).toEqual(['_ossferry/faults', '_ossferry/health']);
  });

  it('the OSS port does not answer admin paths: unsigned /_ossferry/faults is refused by OSS auth and changes nothing', async () => {
    // Prepare
    const s = await start();
    // Act
    const put = await request(s.port, 'PUT', '/_ossferry/faults', { 'content-type': 'application/json' }, JSON.stringify({ all: { errorRate: 1 } }));
    const ok = await client(s, 'adm-b').list();
    // Assess
    expect(put.status).toBe(403);
    expect(put.contentType).toBe('application/xml');
    expect(ok.res.status).toBe(200);
  });

  it('with the token, health and faults work on the admin port', async () => {
    // Prepare
    const s = await start();
    const c = client(s, 'adm-b');
    // Act
    const health = await request(adminPort(s), 'GET', '/_ossferry/health', bearer(s));
    const set = await request(adminPort(s), 'PUT', '/_ossferry/faults', { ...bearer(s), 'content-type': 'application/json' }, JSON.stringify({ all: { errorRate: 1 } }));
    const failed = await c.list().catch((err: { status: number }) => err);
    const read = await request(adminPort(s), 'GET', '/_ossferry/faults', bearer(s));
    await request(adminPort(s), 'PUT', '/_ossferry/faults', { ...bearer(s), 'content-type': 'application/json' }, '{}');
    // Assess
    expect(s.admin.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(adminPort(s)).not.toBe(s.port);
    expect(s.admin.token.length).toBeGreaterThanOrEqual(32);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true });
    expect(set.status).toBe(200);
    expect((failed as { status: number }).status).toBe(500);
    expect(read.json).toEqual({ all: { errorRate: 1 } });
  });

  it('refuses a missing or wrong token (401), an Origin header (403), a simple-request content type (415), an unknown route (404): JSON errors, no effect', async () => {
    // Prepare
    const s = await start();
    const p = adminPort(s);
    const body = JSON.stringify({ all: { errorRate: 1 } });
    const json = { 'content-type': 'application/json' };
    // Act
    const replies = {
      noToken: await request(p, 'PUT', '/_ossferry/faults', json, body),
      wrongToken: await request(p, 'PUT', '/_ossferry/faults', { ...json, authorization: `Bearer ${s.admin.token}x` }, body),
      notBearer: await request(p, 'PUT', '/_ossferry/faults', { ...json, authorization: s.admin.token }, body),
      origin: await request(p, 'PUT', '/_ossferry/faults', { ...json, ...bearer(s), origin: 'http://evil.example' }, body),
      textPlain: await request(p, 'POST', '/_ossferry/faults', { ...bearer(s), 'content-type': 'text/plain' }, body),
      form: await request(p, 'POST', '/_ossferry/faults', { ...bearer(s), 'content-type': 'application/x-www-form-urlencoded' }, body),
      multipart: await request(p, 'POST', '/_ossferry/faults', { ...bearer(s), 'content-type': 'multipart/form-data; boundary=x' }, body),
      noType: await request(p, 'POST', '/_ossferry/faults', bearer(s), body),
      unknown: await request(p, 'PUT', '/_ossferry/nothing', { ...json, ...bearer(s) }, body),
      unknownNoToken: await request(p, 'GET', '/_ossferry/nothing', {}),
      wrongMethod: await request(p, 'DELETE', '/_ossferry/faults', bearer(s)),
    };
    const after = await request(p, 'GET', '/_ossferry/faults', bearer(s));
    const ok = await client(s, 'adm-b').list();
    // Assess
    const statuses = Object.fromEntries(Object.entries(replies).map(([k, r]) => [k, r.status]));
    expect(statuses).toEqual({
      noToken: 401, wrongToken: 401, notBearer: 401, origin: 403, textPlain: 415, form: 415, multipart: 415, noType: 415,
      unknown: 404, unknownNoToken: 401, wrongMethod: 404,
    });
    for (const r of Object.values(replies)) {
      expect(r.contentType).toBe('application/json');
      expect(r.json).toMatchObject({ error: expect.any(String) });
    }
    expect(after.json).toEqual({});
    expect(ok.res.status).toBe(200);
  });

  it('the standalone server prints the admin endpoint and token in its ready line, and they work', async () => {
    // Prepare
    const child = spawn(process.execPath, ['local/oss/main.ts', '--port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const ready = JSON.parse(line) as { event: string; port: number; adminEndpoint: string; adminToken: string };
    const port = Number(new URL(ready.adminEndpoint).port);
    // Act
    const withToken = await request(port, 'GET', '/_ossferry/health', { authorization: `Bearer ${ready.adminToken}` });
    const without = await request(port, 'GET', '/_ossferry/health', {});
    // Assess
    expect(ready.event).toBe('ready');
    expect(port).not.toBe(ready.port);
    expect(withToken.status).toBe(200);
    expect(without.status).toBe(401);
  });
});
