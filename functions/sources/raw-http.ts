/**
 * A minimal HTTP/1.1 client for plain-http ranged GETs, built for the worker's hot path: the socket reads
 * straight into 1 MiB buffers (net `onread` with a buffer generator) and the body is handed on as views of
 * those buffers. node:http allocates a buffer per socket read and its parser copies every body chunk into
 * another one (then the source re-chunked them into a third): three allocations and two copies per byte, and
 * the garbage collection that follows (measured: ~25 % of a copy worker's CPU). Here: one allocation per MiB,
 * no copy. Reads are never small: each read offers ≥ 64 KiB of buffer (less only for the last bytes of a body).
 * With `flushAfterMs` (the copy worker's setting), a slow body (a capped or distant origin) is not held back until a
 * whole buffer fills: bytes that have waited that long are pushed with the next read, so the upload starts on a
 * part's first bytes, not its first MiB. Without it, chunks are whole buffers (except a body's last).
 *
 * Scope, on purpose: responses framed by Content-Length (what a range request gets from any origin). A
 * response framed otherwise (chunked, close-delimited) comes back with `body: undefined` and its connection
 * closed, so the caller re-issues the request through node:http. Connections are kept alive per
 * screened address and reused LIFO; a reused connection that fails before the first response byte (the
 * server closed it while idle) is replaced by a fresh one once, as GET is idempotent. An idle connection
 * keeps reading, so bytes the server sends outside a response discard it (never taken as the next answer).
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { OssferryError } from '../../shared/errors.ts';
import { SourceUnavailableError } from './types.ts';

/** The caller's signal fired while a request or its body was in flight. Never retried (code Aborted). */
export class SourceAbortedError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Aborted', message, options);
  }
}

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  /** Exactly the body's bytes; undefined when the framing is not Content-Length (the connection is closed). */
  body: Readable | undefined;
}

export interface RawRequest {
  /** Screened address and port to connect to (no name resolution happens here). */
  address: string;
  port: number;
  method: 'GET' | 'HEAD';
  /** Path and query. */
  path: string;
  /** The Host header (URL host with port). */
  host: string;
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export interface RawHttpPoolOptions {
  /** Size of the buffers sockets read into (and the largest body chunk). Default 1 MiB. */
  bufferSize?: number;
  /** Idle keep-alive connections kept per address. Default 64. */
  maxIdle?: number;
  /** No byte for this long during a request → the request fails. Default 60 s. */
  timeoutMs?: number;
  /** Prefix of error messages (the source's display URL). */
  what?: string;
  /**
   * Body bytes that waited this long go to the consumer with the next read, even if their buffer is not full.
   * A fast body fills a 1 MiB buffer before; at 2 MiB/s, waiting for a full buffer cost each part half a second
   * before its upload could start. Default: off (whole buffers only).
   */
  flushAfterMs?: number;
}

const MIN_READ = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Parses a response head (status line + header lines, without the final blank line). */
function parseHead(text: string): { status: number; version: string; headers: Record<string, string> } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[2]), version: m[1]!, headers };
}

/**
 * The read buffers of a pool, reused: a buffer goes back to the free list once no connection reads into it
 * and every chunk cut from it was released by the consumer (`RawBody.releaseChunk`, called when the bytes
 * are on the upload socket). Chunks never released (a failed upload) leave their buffer to the GC. Fresh
 * 1 MiB buffers per read made the worker's garbage collector run every few tens of MiB.
 */
class ReadBuffers {
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Buffer[];
  readonly #state = new WeakMap<ArrayBufferLike, { buf: Buffer; refs: number; reading: boolean }>();
  /** Chunks handed out and not released yet (a chunk is released at most once). */
  readonly #lent = new WeakSet<Uint8Array>();

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
    this.#free = freeBuffersOf(size);
  }

  take(): Buffer {
    const buf = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
    this.#state.set(buf.buffer, { buf, refs: 0, reading: true });
    return buf;
  }

  /** The connection reads no more into `buf` (call once per take). */
  leave(buf: Buffer): void {
    const s = this.#state.get(buf.buffer);
    if (!s) return;
    s.reading = false;
    this.#maybeFree(s);
  }

  lend(chunk: Buffer): void {
    const s = this.#state.get(chunk.buffer);
    if (!s) return;
    s.refs++;
    this.#lent.add(chunk);
  }

  release(chunk: Uint8Array): void {
    if (!this.#lent.delete(chunk)) return;
    const s = this.#state.get(chunk.buffer);
    if (!s) return;
    s.refs--;
    this.#maybeFree(s);
  }

  #maybeFree(s: { buf: Buffer; refs: number; reading: boolean }): void {
    if (s.refs > 0 || s.reading) return;
    this.#state.delete(s.buf.buffer);
    if (this.#free.length < this.#maxFree) this.#free.push(s.buf);
  }
}

/**
 * Free read buffers by size, shared by every pool of the process: a copy worker opens a source (and a pool) per
 * task, and a warm instance runs task after task — a free list per pool made every task allocate its ~100 MiB of
 * buffers afresh and leave the last task's to the garbage collector.
 */
const FREE_BY_SIZE = new Map<number, Buffer[]>();
function freeBuffersOf(size: number): Buffer[] {
  let list = FREE_BY_SIZE.get(size);
  if (!list) FREE_BY_SIZE.set(size, (list = []));
  return list;
}

/** The body of one response: views of the connection's read buffers, pushed as they fill. */
class RawBody extends Readable {
  readonly #conn: RawConnection;
  readonly #buffers: ReadBuffers;
  constructor(conn: RawConnection, buffers: ReadBuffers) {
    // Chunks are ≤ 1 MiB views; a few of them ahead of the consumer keep the socket busy.
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.#conn = conn;
    this.#buffers = buffers;
  }
  /**
   * The consumer is done with `chunk` (its bytes are written out): its memory may be reused for later reads.
   * Optional for consumers; functions/oss/part-sink.ts calls it from the upload's write callbacks.
   */
  releaseChunk(chunk: Uint8Array): void {
    this.#buffers.release(chunk);
  }
  override _read(): void {
    this.#conn.resumeReading();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#conn.bodyDestroyed(this);
    cb(err);
  }
}

type Phase = 'idle' | 'head' | 'body';

class RawConnection {
  readonly socket: net.Socket;
  readonly key: string;
  readonly #pool: RawHttpPool;
  readonly #buffers: ReadBuffers;
  #buf: Buffer;
  /** #buf was handed back to #buffers (the connection is gone). */
  #bufLeft = false;
  /** Bytes of #buf holding data. */
  #filled = 0;
  #phase: Phase = 'idle';
  /** Head: where it starts in #buf. Body: where the bytes not yet pushed start. */
  #mark = 0;
  /** Body bytes still to come from the socket. */
  #remaining = 0;
  #keepAlive = false;
  #body: RawBody | undefined;
  #pending: { req: RawRequest; resolve: (r: RawResponse) => void; reject: (e: unknown) => void; reused: boolean } | undefined;
  /** Detaches the current request's abort listener (at the body's end, on failure). */
  #detach: (() => void) | undefined;
  /** When the oldest body byte not yet pushed arrived (performance.now()). */
  #pendingSince = 0;
  /** Bytes received for the current request (a reused connection that fails at 0 is retried fresh). */
  #received = 0;
  #dead = false;

  constructor(pool: RawHttpPool, key: string, address: string, port: number, buffers: ReadBuffers) {
    this.#pool = pool;
    this.key = key;
    this.#buffers = buffers;
    this.#buf = buffers.take();
    this.socket = net.connect({
      host: address,
      port,
      noDelay: true,
      onread: { buffer: () => this.#nextView(), callback: (n: number, view: Uint8Array) => this.#onData(n, view) },
    });
    this.socket.on('error', (err) => this.#fail(err));
    this.socket.on('close', () => this.#fail(undefined));
    this.socket.on('end', () => this.#fail(undefined));
    this.socket.on('timeout', () => this.#fail(new SourceUnavailableError(`${pool.what}: no data for ${pool.timeoutMs} ms`)));
  }

  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Where the next socket read goes. Body: the rest of the current buffer up to the body's end (a full buffer
   * was pushed, so a fresh one follows). Head or idle: the rest of the buffer, or a fresh one (the partial
   * head carried over, a few bytes) when less than 64 KiB is left.
   */
  #nextView(): Buffer {
    const room = this.#buf.length - this.#filled;
    if (this.#phase === 'body' ? room === 0 : room < MIN_READ) this.#newBuffer(this.#phase === 'head');
    const end = this.#phase === 'body' ? Math.min(this.#buf.length, this.#filled + this.#remaining) : this.#buf.length;
    return this.#buf.subarray(this.#filled, end);
  }

  /** Moves on to a fresh buffer, carrying the bytes from #mark (a partial head, or the first body bytes). */
  #newBuffer(carry: boolean): void {
    const old = this.#buf;
    this.#buf = this.#buffers.take();
    this.#filled = carry ? old.copy(this.#buf, 0, this.#mark, this.#filled) : 0;
    this.#mark = 0;
    this.#buffers.leave(old);
  }

  #leaveBuffer(): void {
    if (this.#bufLeft) return;
    this.#bufLeft = true;
    this.#buffers.leave(this.#buf);
  }

  start(req: RawRequest, reused: boolean): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      this.#pending = { req, resolve, reject, reused };
      const signal = req.signal;
      if (signal) {
        // Attached until the body's last byte arrived: an abort mid-body breaks the connection.
        const onAbort = () => this.#fail(new SourceAbortedError(`${this.#pool.what}: request aborted`, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        this.#detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#phase = 'head';
      this.#mark = this.#filled;
      this.#received = 0;
      this.socket.setTimeout(this.#pool.timeoutMs);
      let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.host}\r\nconnection: keep-alive\r\n`;
      for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
      this.socket.write(`${head}\r\n`, 'latin1');
      this.resumeReading();
    });
  }

  resumeReading(): void {
    if (!this.#dead) this.socket.resume();
  }

  /** A read landed in `view` (the view #nextView handed out, at #buf[#filled]). */
  #onData(n: number, view: Uint8Array): boolean {
    if (view.buffer !== this.#buf.buffer || view.byteOffset !== this.#buf.byteOffset + this.#filled) {
      this.#fail(new SourceUnavailableError(`${this.#pool.what}: read landed outside its buffer`));
      return false;
    }
    this.#filled += n;
    this.#received += n;
    if (this.#phase === 'idle') {
      this.#fail(new SourceUnavailableError(`${this.#pool.what}: the server sent bytes outside a response`));
      return false;
    }
    if (this.#phase === 'head') return this.#onHeadBytes(n);
    this.#remaining -= n;
    if (this.#filled - n === this.#mark) this.#pendingSince = performance.now();
    return this.#afterBody();
  }

  #onHeadBytes(n: number): boolean {
    const from = Math.max(this.#mark, this.#filled - n - 3);
    const at = this.#buf.subarray(0, this.#filled).indexOf(CRLFCRLF, from);
    if (at < 0) {
      if (this.#filled - this.#mark > MAX_HEAD) this.#fail(new SourceUnavailableError(`${this.#pool.what}: response head larger than ${MAX_HEAD} bytes`));
      return true;
    }
    const head = parseHead(this.#buf.toString('latin1', this.#mark, at));
    const p = this.#pending!;
    if (!head) {
      this.#fail(new SourceUnavailableError(`${this.#pool.what}: malformed response head`));
      return false;
    }
    if (head.status >= 100 && head.status < 200) {
      // Interim response (100 Continue, 103 Early Hints): the real head follows.
      this.#mark = at + 4;
      return this.#filled > this.#mark ? this.#onHeadBytes(this.#filled - this.#mark) : true;
    }
    const bodyStart = at + 4;
    const noBody = p.req.method === 'HEAD' || head.status === 204 || head.status === 304;
    const cl = head.headers['content-length'];
    const length = noBody ? 0 : cl !== undefined && /^\d+$/.test(cl) && head.headers['transfer-encoding'] === undefined ? Number(cl) : undefined;
    this.#pending = undefined;
    this.socket.setTimeout(this.#pool.timeoutMs);
    if (length === undefined || !Number.isSafeInteger(length)) {
      // Not framed by Content-Length: the caller falls back to node:http; this connection is done.
      this.#detachSignal();
      this.#retire();
      p.resolve({ status: head.status, headers: head.headers, body: undefined });
      return false;
    }
    const extra = this.#filled - bodyStart;
    if (extra > length) {
      // More bytes than the response holds (no pipelining here): the connection cannot be trusted again.
      this.#keepAlive = false;
    } else {
      this.#keepAlive = head.version === '1.1' && !/\bclose\b/i.test(head.headers.connection ?? '');
    }
    this.#phase = 'body';
    this.#mark = bodyStart;
    this.#pendingSince = performance.now();
    this.#remaining = length - Math.min(extra, length);
    if (extra > length) this.#filled = bodyStart + length;
    // Chunks are whole buffers: a body that does not fit in what is left of this one starts a fresh buffer
    // (its first bytes, those read with the head, are copied over once).
    if (this.#remaining > 0 && this.#buf.length - bodyStart < Math.min(length, this.#buf.length)) this.#newBuffer(true);
    this.#body = new RawBody(this, this.#buffers);
    p.resolve({ status: head.status, headers: head.headers, body: this.#body });
    return this.#afterBody();
  }

  /** Pushes what is complete; returns false to pause the socket (consumer behind, or body done). */
  #afterBody(): boolean {
    const body = this.#body!;
    if (this.#remaining === 0) {
      this.#pushPending();
      this.#phase = 'idle';
      this.#body = undefined;
      this.#detachSignal();
      body.push(null);
      this.socket.setTimeout(0);
      if (!this.#keepAlive) {
        this.#retire();
        return false;
      }
      // Idle connections keep reading: a byte that arrives outside a response (#onData, phase idle) discards the
      // connection at once, instead of waiting in the socket to be taken for the next response's head.
      this.#pool.release(this);
      return !this.#dead;
    }
    // Push whole buffers; until this one is full, read on unless the consumer is a few chunks behind. Bytes that
    // waited long (a slow body) go now, so the consumer is not idle while a buffer fills.
    if (this.#filled === this.#buf.length) return this.#pushPending();
    if (this.#filled > this.#mark && performance.now() - this.#pendingSince >= this.#pool.flushAfterMs) return this.#pushPending();
    return body.readableLength < body.readableHighWaterMark;
  }

  #pushPending(): boolean {
    if (!this.#body || this.#filled === this.#mark) return true;
    const chunk = this.#buf.subarray(this.#mark, this.#filled);
    this.#mark = this.#filled;
    this.#buffers.lend(chunk);
    return this.#body.push(chunk);
  }

  bodyDestroyed(body: RawBody): void {
    // Destroyed before its end (abort, consumer error): the rest of the body is still on the wire.
    if (this.#body !== body) return;
    this.#body = undefined;
    this.#phase = 'idle';
    this.#retire();
  }

  #retire(): void {
    this.#detachSignal();
    this.#dead = true;
    this.#pool.forget(this);
    this.socket.destroy();
    this.#leaveBuffer();
  }

  #detachSignal(): void {
    this.#detach?.();
    this.#detach = undefined;
  }

  /** The connection broke (err undefined: closed by the peer). Fails whatever is in flight. */
  #fail(err: Error | undefined): void {
    const wasDead = this.#dead;
    this.#dead = true;
    this.#detachSignal();
    this.#pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
    this.#leaveBuffer();
    const p = this.#pending;
    this.#pending = undefined;
    const body = this.#body;
    this.#body = undefined;
    const phase = this.#phase;
    this.#phase = 'idle';
    if (wasDead && !p && !body) return;
    const cause = err ?? new SourceUnavailableError(`${this.#pool.what}: connection closed by the server`);
    const wrapped = cause instanceof OssferryError ? cause : new SourceUnavailableError(`${this.#pool.what}: ${cause.message}`, { cause });
    if (p) {
      if (p.reused && this.#received === 0 && !(cause instanceof SourceAbortedError)) {
        // A kept-alive connection the server had already closed: one fresh attempt.
        this.#pool.request(p.req, false).then(p.resolve, p.reject);
      } else p.reject(wrapped);
    } else if (body && phase === 'body') {
      body.destroy(wrapped);
    }
  }
}

/** Keep-alive connections per screened address. `destroy()` closes them all. */
export class RawHttpPool {
  readonly what: string;
  readonly timeoutMs: number;
  /** Infinity when off. */
  readonly flushAfterMs: number;
  readonly #buffers: ReadBuffers;
  readonly #maxIdle: number;
  readonly #idle = new Map<string, RawConnection[]>();
  readonly #all = new Set<RawConnection>();
  #closed = false;

  constructor(options: RawHttpPoolOptions = {}) {
    this.#maxIdle = options.maxIdle ?? 64;
    // Enough free buffers for the chunks in flight of a busy worker: per stream, a body a few MiB ahead of its
    // upload, the upload's own few MiB, and a part read ahead (maxIdle is two connections per stream).
    this.#buffers = new ReadBuffers(Math.max(MIN_READ * 2, options.bufferSize ?? 1024 * 1024), 8 * this.#maxIdle);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.flushAfterMs = options.flushAfterMs ?? Infinity;
    this.what = options.what ?? 'source';
  }

  /** Sends one request; resolves at the response head. */
  request(req: RawRequest, allowReuse = true): Promise<RawResponse> {
    if (this.#closed) return Promise.reject(new SourceUnavailableError(`${this.what}: source closed`));
    if (req.signal?.aborted) return Promise.reject(new SourceAbortedError(`${this.what}: request aborted`, { cause: req.signal.reason }));
    const key = `${req.address}|${req.port}`;
    const idle = this.#idle.get(key);
    let conn: RawConnection | undefined;
    while (allowReuse && idle?.length && !conn) {
      const c = idle.pop()!;
      if (!c.dead) conn = c;
    }
    const reused = conn !== undefined;
    if (!conn) {
      conn = new RawConnection(this, key, req.address, req.port, this.#buffers);
      this.#all.add(conn);
    }
    return conn.start(req, reused);
  }

  release(conn: RawConnection): void {
    if (this.#closed || conn.dead) return;
    const list = this.#idle.get(conn.key) ?? [];
    if (list.length >= this.#maxIdle) {
      this.forget(conn);
      conn.socket.destroy();
      return;
    }
    list.push(conn);
    this.#idle.set(conn.key, list);
  }

  forget(conn: RawConnection): void {
    this.#all.delete(conn);
    const list = this.#idle.get(conn.key);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  destroy(): void {
    this.#closed = true;
    for (const c of this.#all) c.socket.destroy();
    this.#all.clear();
    this.#idle.clear();
  }
}
