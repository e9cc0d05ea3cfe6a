/**
 * bench:copy's CPU floor: the least work any process can do to move the bytes a copy worker moves. A bare
 * Node socket relay receives each part's bytes from a plain TCP source and writes them to a plain TCP sink —
 * no HTTP framing, no CRC, no signing, no copies (the socket reads into reused 1 MiB buffers, as ossferry's raw
 * transport does, and each read is written on as it is) — with as many streams and the same part size as ossferry. Its process's CPU seconds per GiB are the floor
 * the worker's CPU per GiB is compared with.
 * The source and the sink run in the calling (bench) process; the relay runs in a child process of its own, so
 * its CPU is only the relay's: `node bench/lib/relay-floor.ts --relay` reads its arguments as JSON on stdin.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RelayArgs {
  sourcePort: number;
  sinkPort: number;
  size: number;
  partSize: number;
  streams: number;
}

export interface RelayResult {
  seconds: number;
  /** User + system CPU seconds of the relay process during the transfer. */
  cpuSeconds: number;
  maxRssBytes: number;
}

/** Plain TCP servers: the source answers "start end\n" with exactly those bytes of `file`; the sink counts. */
export async function startFloorServers(file: string): Promise<{ sourcePort: number; sinkPort: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const source = net.createServer((s) => {
    track(s);
    let line = '';
    let busy = Promise.resolve();
    s.on('data', (d: Buffer) => {
      line += d.toString('latin1');
      for (let nl = line.indexOf('\n'); nl >= 0; nl = line.indexOf('\n')) {
        const [start, end] = line.slice(0, nl).split(' ').map(Number) as [number, number];
        line = line.slice(nl + 1);
        busy = busy.then(
          () =>
            new Promise<void>((done, fail) => {
              const r = createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 });
              r.on('error', fail);
              r.on('end', () => done());
              r.pipe(s, { end: false });
            }),
        );
      }
    });
  });
  const sink = net.createServer((s) => {
    track(s);
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length));
    s.on('end', () => s.end(`${n}\n`));
  });
  const listen = (srv: net.Server) => new Promise<number>((ok) => srv.listen(0, '127.0.0.1', () => ok((srv.address() as AddressInfo).port)));
  const [sourcePort, sinkPort] = [await listen(source), await listen(sink)];
  return {
    sourcePort,
    sinkPort,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => source.close(r)), new Promise((r) => sink.close(r))]);
    },
  };
}

const connect = (port: number, onread?: net.OnReadOpts) =>
  new Promise<net.Socket>((ok, fail) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true, ...(onread ? { onread } : {}) }, () => ok(s));
    s.once('error', fail);
  });

const BUFFER = 1024 * 1024;
const MIN_READ = 64 * 1024;
/** Read buffers reused once every chunk cut from them is on the sink socket. */
const free: Buffer[] = [];
const refs = new Map<ArrayBufferLike, { buf: Buffer; n: number; current: boolean }>();
const release = (b: { buf: Buffer; n: number; current: boolean }) => {
  if (b.n > 0 || b.current) return;
  refs.delete(b.buf.buffer);
  free.push(b.buf);
};

/** One stream: for each part it takes, asks the source for it and writes every read on to the sink. */
async function relayStream(sourcePort: number, sink: net.Socket, take: () => [number, number] | undefined): Promise<number> {
  let cur = { buf: free.pop() ?? Buffer.allocUnsafeSlow(BUFFER), n: 0, current: true };
  refs.set(cur.buf.buffer, cur);
  let used = 0;
  let moved = 0;
  let left = 0;
  let partDone: (() => void) | undefined;
  let src: net.Socket | undefined;
  const nextView = () => {
    if (BUFFER - used < MIN_READ) {
      cur.current = false;
      release(cur);
      cur = { buf: free.pop() ?? Buffer.allocUnsafeSlow(BUFFER), n: 0, current: true };
      refs.set(cur.buf.buffer, cur);
      used = 0;
    }
    return cur.buf.subarray(used);
  };
  const onRead = (n: number, view: Uint8Array): boolean => {
    const chunk = Buffer.from(view.buffer, view.byteOffset, n);
    used += n;
    left -= n;
    moved += n;
    const owner = cur;
    owner.n++;
    const more = sink.write(chunk, () => {
      owner.n--;
      release(owner);
    });
    if (left <= 0) partDone?.();
    if (!more) {
      sink.once('drain', () => src?.resume());
      return false;
    }
    return true;
  };
  src = await connect(sourcePort, { buffer: nextView, callback: onRead });
  for (let part = take(); part; part = take()) {
    const [start, end] = part;
    left = end - start;
    await new Promise<void>((done) => {
      partDone = done;
      src.write(`${start} ${end}\n`);
    });
  }
  src.destroy();
  return moved;
}

/** The relay itself (child process side). */
async function relay(a: RelayArgs): Promise<RelayResult> {
  const sinks = await Promise.all(Array.from({ length: a.streams }, () => connect(a.sinkPort)));
  let next = 0;
  const take = (): [number, number] | undefined => {
    const start = next * a.partSize;
    if (start >= a.size) return undefined;
    next++;
    return [start, Math.min(a.size, start + a.partSize)];
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const moved = await Promise.all(sinks.map((sink) => relayStream(a.sourcePort, sink, take)));
  // The sink's count, after every byte is in: the transfer is done when the sink has them all.
  const counted = await Promise.all(
    sinks.map(
      (sink) =>
        new Promise<number>((ok) => {
          let text = '';
          sink.on('data', (d: Buffer) => (text += d.toString()));
          sink.on('end', () => ok(Number(text.trim())));
          sink.end();
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const total = counted.reduce((s, n) => s + n, 0);
  if (total !== a.size || moved.reduce((s, n) => s + n, 0) !== a.size) throw new Error(`relay moved ${total} of ${a.size} bytes`);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** Runs the relay in a child process and returns what it measured. */
export function runRelay(a: RelayArgs): Promise<RelayResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--relay'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`relay floor exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as RelayResult);
    });
    child.stdin.end(JSON.stringify(a));
  });
}

if (process.argv[2] === '--relay' && import.meta.url === new URL(process.argv[1]!, 'file://').href) {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const r = await relay(JSON.parse(Buffer.concat(chunks).toString()) as RelayArgs);
  process.stdout.write(JSON.stringify(r) + '\n');
}
