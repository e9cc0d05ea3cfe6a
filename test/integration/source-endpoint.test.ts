/**
 * A job-named OSS endpoint receives the function's STS credentials, so it is checked before any connection:
 * a loopback trap that is not allow-listed is refused by the coordinator and by a worker invoked directly,
 * and sees zero connections; an allow-listed endpoint works. Everything listens on loopback.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskToWire, type CopyTaskInput } from '../../shared/task.ts';
import { handler as workerHandler } from '../../functions/worker/handler.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';
import { workerContext } from '../helpers/fc-context.ts';

/** A TCP listener that counts connections and keeps what they sent; with `forward`, it relays to that port. */
interface Trap {
  host: string;
  port: number;
  connections: number;
  received: Buffer[];
  close(): Promise<void>;
}

async function startTrap(host: string, forward?: number): Promise<Trap> {
  const trap: Trap = { host, port: 0, connections: 0, received: [], close: async () => undefined };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    trap.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (forward === undefined) {
      socket.on('data', (d: Buffer) => trap.received.push(d));
      return;
    }
    const upstream = net.connect(forward, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  trap.port = (server.address() as net.AddressInfo).port;
  trap.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return trap;
}


let cloud: LocalCloud;
let client: OSS;
let trap: Trap;
let foreign: LocalOss;
let foreignRelay: Trap;
const sourceData = randomBytes(300_000);
const functionCredentials = { accessKeyId: `STS.${randomBytes(6).toString('hex')}`, accessKeySecret: randomBytes(15).toString('base64url'), securityToken: randomBytes(16).toString('base64url') };

beforeAll(async () => {
  trap = await startTrap('127.0.0.2');
  // Another OSS that knows the functions' STS credentials, behind a counting relay on 127.0.0.3: the allow-listed endpoint.
  foreign = await startOssServer({ buckets: ['foreign'], sts: functionCredentials, fsync: false });
  await new OSS(foreign.clientOptions('foreign')).put('data/a.bin', sourceData);
  foreignRelay = await startTrap('127.0.0.3', foreign.port);
  cloud = await startLocalCloud({
    workers: { maxInstances: 2, instanceConcurrency: 1 },
    functionCredentials,
    functionEnv: { OSSFERRY_ALLOWED_OSS_ENDPOINTS: `127.0.0.3:${foreignRelay.port}` },
  });
  client = cloud.ossClient();
  await client.put('inbox/src.bin', sourceData);
});
afterAll(async () => {
  await cloud?.close();
  await trap?.close();
  await foreignRelay?.close();
  await foreign?.close();
});

describe('sourceEndpoint is screened before any connection', () => {
  const forms: Array<[string, () => string]> = [
    ['http://127.0.0.2:P', () => `http://127.0.0.2:${trap.port}`],
    ['bare host 127.0.0.2:P', () => `127.0.0.2:${trap.port}`],
  ];
  for (const [label, endpoint] of forms) {
    it(`a job naming a loopback trap (${label}) is refused, the trap sees no connection, nothing is written`, async () => {
      // Prepare
      const key = `leak/${randomBytes(4).toString('hex')}.bin`;
      // Act
      const body = await invocationFailure(cloud.submitJob({ source: `oss://${cloud.bucket}/inbox/src.bin`, sourceEndpoint: endpoint(), destination: `oss://${cloud.bucket}/${key}` }));
      // Assess
      expect(body.code).toBe('InvalidInput');
      expect(body.errorMessage).toMatch(/^sourceEndpoint: .* is not an OSS endpoint .*credentials.*Fix: .*OSSFERRY_ALLOWED_OSS_ENDPOINTS/);
      expect(trap.connections).toBe(0);
      expect(trap.received).toHaveLength(0);
      await expect(client.head(key)).rejects.toMatchObject({ status: 404 });
      expect(await uploadsLeft(client)).toBe(0);
    });
  }

  it('an allow-listed endpoint is used, through its own screened connection', async () => {
    // Prepare
    const key = `allowed/${randomBytes(4).toString('hex')}.bin`;
    const before = foreignRelay.connections;
    // Act
    const report = await cloud.submitJob({ source: 'oss://foreign/data/a.bin', sourceEndpoint: `http://127.0.0.3:${foreignRelay.port}`, destination: `oss://${cloud.bucket}/${key}`, partSize: 100 * 1024 });
    // Assess
    expect(report.size).toBe(sourceData.length);
    expect(((await client.get(key)).content as Buffer).equals(sourceData)).toBe(true);
    expect(foreignRelay.connections).toBeGreaterThan(before);
    expect(trap.connections).toBe(0);
  });
});

describe('a worker invoked directly screens the endpoints in its task', () => {
  const context = () => workerContext({ accessKeyId: 'STS.test', accessKeySecret: 'secret', securityToken: 'token' }, cloud.oss.region);

  async function runTask(task: CopyTaskInput): Promise<unknown> {
    const saved = { ...process.env };
    process.env.OSSFERRY_OSS_ENDPOINT = cloud.oss.endpoint;
    try {
      return await workerHandler(Buffer.from(JSON.stringify(taskToWire(task))), context());
    } finally {
      process.env = saved;
    }
  }

  const baseTask = (): CopyTaskInput => ({
    mode: 'copy',
    jobId: 'jscreen',
    uploadId: 'u1',
    destination: { bucket: cloud.bucket, key: 'direct/x.bin' },
    source: { url: `oss://${cloud.bucket}/inbox/src.bin`, identity: { size: sourceData.length } },
    parts: [{ partNumber: 1, start: 0, end: sourceData.length }],
    streams: 1,
  });

  it('a task whose source endpoint is the trap is refused with zero connections', async () => {
    // Act
    const act = runTask({ ...baseTask(), source: { ...baseTask().source, endpoint: `http://127.0.0.2:${trap.port}` } });
    // Assess
    await expect(act).rejects.toThrow(/sourceEndpoint: .* is not an OSS endpoint/);
    expect(trap.connections).toBe(0);
  });

  it('a task whose destination endpoint hint is the trap is refused with zero connections', async () => {
    // Act
    const act = runTask({ ...baseTask(), oss: { endpoint: `http://127.0.0.2:${trap.port}` } });
    // Assess
    await expect(act).rejects.toThrow(/task\.oss\.endpoint: .* is not an OSS endpoint/);
    expect(trap.connections).toBe(0);
  });
});
