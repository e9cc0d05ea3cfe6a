/**
 * HTTP(S) source over node:http/https. Every connection goes to an SSRF-screened address (./screen.ts);
 * redirects are followed only after screening their target. `stat()` reads size, strong ETag and
 * Last-Modified (HEAD, or a 1-byte ranged GET when HEAD is refused, as presigned GET URLs do). `read()`
 * sends `Range` pinned with `If-Match` and `If-Range` on the ETag (peers.md §0 item 11), so a changed
 * file gives 412 or a 200 with the whole new file — both become SourceChangedError, never spliced bytes.
 * Bodies are delivered in ≥ 1 MiB chunks (CRC and upload work on large buffers, not 16–64 KB socket reads).
 */
import http from 'node:http';
import https from 'node:https';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { safeUrl, silentLogger, type Logger } from '../../shared/log.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import { allowListFromEnv, pinnedLookup, screenUrl, type Resolver, type ScreenedTarget } from './screen.ts';
import { SourceChangedError, SourceUnavailableError, type RangeSource, type SourceIdentity } from './types.ts';

/** An HTTP answer that retrying cannot fix (401/403/404 at stat, 400, …). */
export class SourceHttpError extends OssferryError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super('SourceHttp', message, options);
    this.status = status;
  }
}

export interface HttpSourceOptions {
  /** Hosts/CIDRs that may be private or loopback. Default: env OSSFERRY_ALLOWED_SOURCE_HOSTS. */
  allow?: AllowList;
  /** DNS resolver (tests record lookups). Default: system resolver. */
  resolver?: Resolver;
  logger?: Logger;
  /** Size of the chunks `read()` streams deliver. Default 1 MiB. */
  chunkSize?: number;
  /** Keep-alive sockets per origin (≥ the worker's streams). Default 64. */
  maxSockets?: number;
  /** Socket idle timeout in ms. Default 60 s. */
  idleTimeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
}

const DEFAULT_CHUNK = 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Re-chunks a body into `chunkSize` buffers and checks it has exactly `expected` bytes. */
class SizedChunker extends Transform {
  readonly #chunk: number;
  readonly #expected: number;
  readonly #what: string;
  #parts: Buffer[] = [];
  #pending = 0;
  #seen = 0;
  constructor(expected: number, chunkSize: number, what: string) {
    super({ readableHighWaterMark: 4 * chunkSize, writableHighWaterMark: chunkSize });
    this.#chunk = chunkSize;
    this.#expected = expected;
    this.#what = what;
  }
  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += data.length;
    if (this.#seen > this.#expected) return cb(new SourceChangedError(`${this.#what}: more bytes than the ${this.#expected} requested`));
    this.#parts.push(data);
    this.#pending += data.length;
    if (this.#pending >= this.#chunk) this.#flushParts();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (this.#seen !== this.#expected) {
      return cb(new SourceUnavailableError(`${this.#what}: body ended after ${this.#seen} of ${this.#expected} bytes`));
    }
    this.#flushParts();
    cb();
  }
  #flushParts(): void {
    if (this.#pending === 0) return;
    this.push(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#pending));
    this.#parts = [];
    this.#pending = 0;
  }
}

const isStrongEtag = (e: string | undefined): e is string => typeof e === 'string' && e.startsWith('"');

/** An http(s):// source. Create with `new HttpSource(url, options)`; `close()` frees its sockets. */
export class HttpSource implements RangeSource {
  readonly displayUrl: string;
  readonly #url: URL;
  readonly #auth: string | undefined;
  readonly #allow: AllowList;
  readonly #resolver: Resolver | undefined;
  readonly #log: Logger;
  readonly #chunk: number;
  readonly #idle: number;
  readonly #maxRedirects: number;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  /** Screened target per host:port: resolved once per source, every later socket goes to the same address. */
  readonly #targets = new Map<string, Promise<ScreenedTarget>>();

  constructor(url: string, options: HttpSourceOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (err) {
      throw new InvalidInputError('source', 'is not a URL', 'use an http:// or https:// URL', { cause: err });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new InvalidInputError('source', `scheme ${u.protocol} is not HTTP`, 'use an http:// or https:// URL');
    }
    this.#auth = u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : undefined;
    u.username = '';
    u.password = '';
    this.#url = u;
    this.displayUrl = safeUrl(u.toString());
    this.#allow = options.allow ?? allowListFromEnv();
    this.#resolver = options.resolver;
    this.#log = options.logger ?? silentLogger;
    this.#chunk = options.chunkSize ?? DEFAULT_CHUNK;
    this.#idle = options.idleTimeoutMs ?? 60_000;
    this.#maxRedirects = options.maxRedirects ?? 5;
    const agentOpts = { keepAlive: true, maxSockets: options.maxSockets ?? 64, scheduling: 'lifo' as const };
    this.#httpAgent = new http.Agent(agentOpts);
    this.#httpsAgent = new https.Agent(agentOpts);
  }

  #target(url: URL): Promise<ScreenedTarget> {
    const key = `${url.protocol}//${url.host}`;
    let t = this.#targets.get(key);
    if (!t) {
      t = screenUrl(url, { allow: this.#allow, resolver: this.#resolver });
      this.#targets.set(key, t);
      t.catch(() => this.#targets.delete(key));
    }
    return t;
  }

  /** One request, following redirects (each target screened first). Resolves with the final response. */
  async #request(method: 'GET' | 'HEAD', headers: Record<string, string>, signal?: AbortSignal): Promise<{ res: http.IncomingMessage; url: URL }> {
    let url = this.#url;
    for (let hop = 0; ; hop++) {
      const target = await this.#target(url);
      signal?.throwIfAborted();
      const sameOrigin = url.origin === this.#url.origin;
      const h: Record<string, string> = { ...headers };
      // Credentials from the URL go to its own origin only, never to a redirect target elsewhere.
      if (this.#auth && sameOrigin) h.authorization = this.#auth;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const mod = url.protocol === 'https:' ? https : http;
        const req = mod.request(
          {
            method,
            protocol: url.protocol,
            host: target.hostname,
            port: target.port,
            path: url.pathname + url.search,
            headers: h,
            agent: url.protocol === 'https:' ? this.#httpsAgent : this.#httpAgent,
            lookup: pinnedLookup(target),
            signal,
          },
          resolve,
        );
        req.setTimeout(this.#idle, () => req.destroy(new SourceUnavailableError(`${this.displayUrl}: no data for ${this.#idle} ms`)));
        req.on('error', (err) => reject(err instanceof OssferryError || (err as { name?: string }).name === 'AbortError' ? err : new SourceUnavailableError(`${this.displayUrl}: ${(err as Error).message}`, { cause: err })));
        req.end();
      });
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode ?? 0) && location) {
        res.resume();
        if (hop >= this.#maxRedirects) throw new SourceHttpError(res.statusCode ?? 0, `${this.displayUrl}: more than ${this.#maxRedirects} redirects`);
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new SourceHttpError(res.statusCode ?? 0, `${this.displayUrl}: redirect to unsupported scheme ${next.protocol}`);
        }
        this.#log.debug('source redirect', { from: safeUrl(url.toString()), to: safeUrl(next.toString()) });
        url = next;
        continue;
      }
      return { res, url };
    }
  }

  #statusError(status: number, what: string, res: http.IncomingMessage): Error {
    res.resume();
    if (status === 429 || status === 408 || status >= 500) {
      return Object.assign(new SourceUnavailableError(`${this.displayUrl}: ${what} answered ${status}`), { status });
    }
    return new SourceHttpError(status, `${this.displayUrl}: ${what} answered ${status}`);
  }

  async stat(signal?: AbortSignal): Promise<SourceIdentity> {
    let { res } = await this.#request('HEAD', {}, signal);
    let status = res.statusCode ?? 0;
    let size: number | undefined;
    if (status === 403 || status === 405 || status === 501) {
      // Presigned GET URLs refuse HEAD (the signature covers the method): ask for one byte instead.
      res.resume();
      ({ res } = await this.#request('GET', { range: 'bytes=0-0' }, signal));
      status = res.statusCode ?? 0;
      res.resume();
      const total = /\/(\d+)$/.exec(res.headers['content-range'] ?? '')?.[1];
      if ((status === 206 || status === 416) && total !== undefined) size = Number(total);
      else if (status === 200) size = Number(res.headers['content-length']);
      else throw this.#statusFailure(status, res);
    } else if (status === 200) {
      res.resume();
      size = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    } else {
      throw this.#statusFailure(status, res);
    }
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new InvalidInputError('source', `${this.displayUrl} does not state its size (no Content-Length)`, 'serve the file with Content-Length, or copy it from a server that does');
    }
    const id: SourceIdentity = { size };
    const etag = res.headers.etag;
    if (isStrongEtag(etag)) id.etag = etag;
    const lm = res.headers['last-modified'];
    if (lm && !Number.isNaN(Date.parse(lm))) id.mtimeMs = Date.parse(lm);
    if (id.etag === undefined) {
      this.#log.warn('source has no strong ETag: reads are pinned by Last-Modified only', { source: this.displayUrl });
    }
    return id;
  }

  #statusFailure(status: number, res: http.IncomingMessage): Error {
    if (status === 404 || status === 410) {
      res.resume();
      return new InvalidInputError('source', `${this.displayUrl} was not found (${status})`, 'check the URL');
    }
    if (status === 401 || status === 403) {
      res.resume();
      return new InvalidInputError('source', `${this.displayUrl} refused access (${status})`, 'check the URL credentials or re-sign the URL');
    }
    return this.#statusError(status, 'HEAD', res);
  }

  async read(start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > pin.size) {
      throw new InvalidInputError('range', `[${start}, ${end}) is not within [0, ${pin.size})`, 'request a range inside the pinned size');
    }
    if (end === start) return Readable.from([]);
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}` };
    if (pin.etag) {
      headers['if-match'] = pin.etag;
      headers['if-range'] = pin.etag;
    } else if (pin.mtimeMs !== undefined) {
      const date = new Date(pin.mtimeMs).toUTCString();
      headers['if-unmodified-since'] = date;
      headers['if-range'] = date;
    }
    const { res } = await this.#request('GET', headers, signal);
    const status = res.statusCode ?? 0;
    const what = `${this.displayUrl} bytes [${start}, ${end})`;
    const changed = (why: string) => {
      res.resume();
      return new SourceChangedError(`${what}: source changed since it was planned (${why})`);
    };
    if (status === 412) throw changed('412 Precondition Failed');
    if (status === 416 || status === 404 || status === 410) throw changed(`${status}`);
    const etag = res.headers.etag;
    if (pin.etag && etag !== undefined && etag !== pin.etag) throw changed(`ETag ${etag} ≠ ${pin.etag}`);
    if (status === 206) {
      const expect = `bytes ${start}-${end - 1}/${pin.size}`;
      const got = res.headers['content-range'];
      if (got !== expect) {
        const total = /\/(\d+|\*)$/.exec(got ?? '')?.[1];
        if (total !== undefined && total !== String(pin.size)) throw changed(`size ${total} ≠ ${pin.size}`);
        res.resume();
        throw new SourceUnavailableError(`${what}: unexpected Content-Range ${got ?? '(none)'}`);
      }
    } else if (status === 200) {
      // If-Range did not match (the file changed), or the server ignores Range. Only a full-file request of an
      // unchanged file may be answered with 200.
      const fullRequest = start === 0 && end === pin.size && Number(res.headers['content-length']) === pin.size;
      if (!fullRequest || (pin.etag !== undefined && etag === undefined)) throw changed('200 instead of 206: If-Range did not match');
    } else {
      throw this.#statusError(status, 'GET', res);
    }
    const chunker = new SizedChunker(end - start, this.#chunk, what);
    pipeline(res, chunker, (err) => {
      if (err && !chunker.destroyed) chunker.destroy(err);
    });
    return chunker;
  }

  async close(): Promise<void> {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}
