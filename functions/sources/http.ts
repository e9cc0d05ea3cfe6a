/**
 * HTTP(S) source over node:http/https. Every connection goes to an SSRF-screened address (./screen.ts);
 * redirects are followed only after screening their target. `stat()` reads size, strong ETag and
 * Last-Modified (HEAD, or a 1-byte ranged GET when HEAD is refused, as presigned GET URLs do). `read()`
 * sends `Range` pinned with `If-Match` and `If-Range` on the ETag (RFC 9110 §13.1.1, §13.1.5), so a changed
 * file gives 412 or a 200 with the whole new file — both become SourceChangedError, never spliced bytes.
 * Bodies are delivered in chunks of up to 1 MiB (CRC and upload work on large buffers, not 16–64 KB socket
 * reads). Plain-http ranged reads go through ./raw-http.ts (sockets read straight into 1 MiB buffers handed
 * on as views: no per-read allocation, no parser copy, no re-chunking copy); https and responses that are
 * not framed by Content-Length go through node:http, whose bodies are re-chunked here.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Pool } from 'undici';
import { Readable } from 'node:stream';
import { attributesFromHeaders, type ObjectAttributes } from '../../shared/attributes.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { safeUrl, silentLogger, type Logger } from '../../shared/log.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import { chunkBody, DEFAULT_CHUNK_SIZE } from './chunker.ts';
import { RawHttpPool, type RawResponse } from './raw-http.ts';
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
  /** Raw transport: push body bytes that waited this long without waiting for a full chunk (./raw-http.ts). Default off. */
  flushAfterMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Extra trusted CA certificates (PEM) for https sources, e.g. a private CA; the system's stay trusted. */
  ca?: string | Buffer;
  /**
   * How ranged reads travel: 'raw' (./raw-http.ts for plain http, node:http for https) or 'undici' (Node's own
   * HTTP client, every request). Default: env OSSFERRY_HTTP_TRANSPORT, else 'raw'. bench:copy measures both.
   */
  transport?: HttpTransport;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export type HttpTransport = 'raw' | 'undici';
const TRANSPORT_ENV = 'OSSFERRY_HTTP_TRANSPORT';

const isStrongEtag = (e: string | undefined): e is string => typeof e === 'string' && e.startsWith('"');

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** A response of either transport (node:http or ./raw-http.ts): status, headers, and a body to read or drain. */
interface SourceResponse {
  status: number;
  headers: ResponseHeaders;
  body: Readable;
  /** True when `body` is already delivered in large chunks (raw transport): no re-chunking needed. */
  chunked: boolean;
}

/** Drops a body that is not wanted: node:http drains it (small error bodies); raw closes its connection if unread. */
function discard(res: SourceResponse): void {
  if (res.chunked) res.body.destroy();
  else res.body.resume();
}

const one = (h: ResponseHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The whole-object CRC-64 an OSS origin states (x-oss-hash-crc64ecma); undefined when absent or malformed. */
function publishedCrc64(h: ResponseHeaders): bigint | undefined {
  const v = one(h, 'x-oss-hash-crc64ecma');
  if (v === undefined) return undefined;
  try {
    return crc64FromWire(v, 'x-oss-hash-crc64ecma');
  } catch {
    return undefined;
  }
}

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
  #attributes: ObjectAttributes | undefined;
  readonly #transport: HttpTransport;
  readonly #ca: string | undefined;
  readonly #maxSockets: number;
  /** undici pools per origin and screened address (transport 'undici'). */
  readonly #pools = new Map<string, Pool>();
  /** Plain-http ranged reads; undefined once a response needed node:http (not framed by Content-Length). */
  #raw: RawHttpPool | undefined;
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
    this.#chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#idle = options.idleTimeoutMs ?? 60_000;
    this.#maxRedirects = options.maxRedirects ?? 5;
    const agentOpts = { keepAlive: true, maxSockets: options.maxSockets ?? 64, scheduling: 'lifo' as const };
    this.#httpAgent = new http.Agent(agentOpts);
    this.#httpsAgent = new https.Agent(options.ca ? { ...agentOpts, ca: [...tls.rootCertificates, options.ca.toString()] } : agentOpts);
    const transport = options.transport ?? process.env[TRANSPORT_ENV] ?? 'raw';
    if (transport !== 'raw' && transport !== 'undici') throw new InvalidInputError(TRANSPORT_ENV, `is "${transport}"`, 'use raw or undici');
    this.#transport = transport;
    this.#ca = options.ca?.toString();
    this.#maxSockets = options.maxSockets ?? 64;
    this.#raw = new RawHttpPool({
      bufferSize: this.#chunk,
      maxIdle: options.maxSockets ?? 64,
      timeoutMs: this.#idle,
      what: this.displayUrl,
      ...(options.flushAfterMs !== undefined ? { flushAfterMs: options.flushAfterMs } : {}),
    });
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

  /**
   * One request, following redirects (each target screened first). Resolves with the final response. `raw`:
   * plain-http hops may use the raw transport (ranged reads); a response it cannot frame is asked again
   * through node:http, and that source stays on node:http.
   */
  async #request(method: 'GET' | 'HEAD', headers: Record<string, string>, signal?: AbortSignal, raw = false): Promise<SourceResponse> {
    let url = this.#url;
    for (let hop = 0; ; hop++) {
      const target = await this.#target(url);
      signal?.throwIfAborted();
      const sameOrigin = url.origin === this.#url.origin;
      const h: Record<string, string> = { ...headers };
      // Credentials from the URL go to its own origin only, never to a redirect target elsewhere.
      if (this.#auth && sameOrigin) h.authorization = this.#auth;
      let res: SourceResponse | undefined;
      if (this.#transport === 'undici') {
        res = await this.#undiciRequest(url, target, method, h, signal);
      } else if (raw && this.#raw && url.protocol === 'http:') {
        const r: RawResponse = await this.#raw.request({ address: target.address, port: target.port, method, path: url.pathname + url.search, host: url.host, headers: h, signal });
        if (r.body) res = { status: r.status, headers: r.headers, body: r.body, chunked: true };
        else if (r.status === 200 || r.status === 206) {
          this.#log.info('source response not framed by Content-Length: reading it through node:http', { source: this.displayUrl });
          this.#raw.destroy();
          this.#raw = undefined;
        } else res = { status: r.status, headers: r.headers, body: Readable.from([]), chunked: true };
      }
      res ??= await this.#nodeRequest(url, target, method, h, signal);
      const location = one(res.headers, 'location');
      if (REDIRECTS.has(res.status) && location) {
        discard(res);
        if (hop >= this.#maxRedirects) throw new SourceHttpError(res.status, `${this.displayUrl}: more than ${this.#maxRedirects} redirects`);
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new SourceHttpError(res.status, `${this.displayUrl}: redirect to unsupported scheme ${next.protocol}`);
        }
        this.#log.debug('source redirect', { from: safeUrl(url.toString()), to: safeUrl(next.toString()) });
        url = next;
        continue;
      }
      return res;
    }
  }

  async #nodeRequest(url: URL, target: ScreenedTarget, method: 'GET' | 'HEAD', h: Record<string, string>, signal: AbortSignal | undefined): Promise<SourceResponse> {
    {
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
      return { status: res.statusCode ?? 0, headers: res.headers, body: res, chunked: false };
    }
  }

  async #undiciRequest(url: URL, target: ScreenedTarget, method: 'GET' | 'HEAD', h: Record<string, string>, signal: AbortSignal | undefined): Promise<SourceResponse> {
    const key = `${url.origin}|${target.address}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      const connect = { lookup: pinnedLookup(target), ...(this.#ca ? { ca: [...tls.rootCertificates, this.#ca] } : {}) };
      pool = new Pool(url.origin, { connections: this.#maxSockets, connect, headersTimeout: this.#idle, bodyTimeout: this.#idle });
      this.#pools.set(key, pool);
    }
    try {
      const r = await pool.request({ method, path: url.pathname + url.search, headers: h, ...(signal ? { signal } : {}) });
      return { status: r.statusCode, headers: r.headers as ResponseHeaders, body: r.body, chunked: false };
    } catch (err) {
      if (err instanceof OssferryError || (err as { name?: string }).name === 'AbortError') throw err;
      throw new SourceUnavailableError(`${this.displayUrl}: ${(err as Error).message}`, { cause: err });
    }
  }

  #statusError(status: number, what: string, res: SourceResponse): Error {
    discard(res);
    if (status === 429 || status === 408 || status >= 500) {
      return Object.assign(new SourceUnavailableError(`${this.displayUrl}: ${what} answered ${status}`), { status });
    }
    return new SourceHttpError(status, `${this.displayUrl}: ${what} answered ${status}`);
  }

  async stat(signal?: AbortSignal): Promise<SourceIdentity> {
    let res = await this.#request('HEAD', {}, signal);
    let status = res.status;
    let size: number | undefined;
    if (status === 403 || status === 405 || status === 501) {
      // Presigned GET URLs refuse HEAD (the signature covers the method): ask for one byte instead.
      discard(res);
      res = await this.#request('GET', { range: 'bytes=0-0' }, signal);
      status = res.status;
      discard(res);
      const total = /\/(\d+)$/.exec(one(res.headers, 'content-range') ?? '')?.[1];
      if ((status === 206 || status === 416) && total !== undefined) size = Number(total);
      else if (status === 200) size = Number(one(res.headers, 'content-length'));
      else throw this.#statusFailure(status, res);
    } else if (status === 200) {
      discard(res);
      const cl = one(res.headers, 'content-length');
      size = cl === undefined ? undefined : Number(cl);
    } else {
      throw this.#statusFailure(status, res);
    }
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new InvalidInputError('source', `${this.displayUrl} does not state its size (no Content-Length)`, 'serve the file with Content-Length, or copy it from a server that does');
    }
    const id: SourceIdentity = { size };
    const etag = one(res.headers, 'etag');
    if (isStrongEtag(etag)) id.etag = etag;
    const lm = one(res.headers, 'last-modified');
    if (lm && !Number.isNaN(Date.parse(lm))) id.mtimeMs = Date.parse(lm);
    this.#attributes = attributesFromHeaders(res.headers);
    // An OSS signed URL publishes the object's CRC-64: the job then proves the copy against it end to end.
    const crc = publishedCrc64(res.headers);
    if (crc !== undefined) id.crc64 = crc;
    if (id.etag === undefined) {
      this.#log.warn('source has no strong ETag: reads are pinned by Last-Modified only', { source: this.displayUrl });
    }
    return id;
  }

  #statusFailure(status: number, res: SourceResponse): Error {
    if (status === 404 || status === 410) {
      discard(res);
      return new InvalidInputError('source', `${this.displayUrl} was not found (${status})`, 'check the URL');
    }
    if (status === 401 || status === 403) {
      discard(res);
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
    const res = await this.#request('GET', headers, signal, true);
    const status = res.status;
    const what = `${this.displayUrl} bytes [${start}, ${end})`;
    const changed = (why: string) => {
      discard(res);
      return new SourceChangedError(`${what}: source changed since it was planned (${why})`);
    };
    if (status === 412) throw changed('412 Precondition Failed');
    if (status === 416 || status === 404 || status === 410) throw changed(`${status}`);
    const etag = one(res.headers, 'etag');
    if (pin.etag && etag !== undefined && etag !== pin.etag) throw changed(`ETag ${etag} ≠ ${pin.etag}`);
    // OSS sends the whole object's CRC-64 with every ranged answer: a second change detector.
    const crc = publishedCrc64(res.headers);
    if (pin.crc64 !== undefined && crc !== undefined && crc !== pin.crc64) throw changed(`CRC-64 ${crc} ≠ ${pin.crc64}`);
    if (status === 206) {
      const expect = `bytes ${start}-${end - 1}/${pin.size}`;
      const got = one(res.headers, 'content-range');
      if (got !== expect) {
        const total = /\/(\d+|\*)$/.exec(got ?? '')?.[1];
        if (total !== undefined && total !== String(pin.size)) throw changed(`size ${total} ≠ ${pin.size}`);
        discard(res);
        throw new SourceUnavailableError(`${what}: unexpected Content-Range ${got ?? '(none)'}`);
      }
    } else if (status === 200) {
      // If-Range did not match (the file changed), or the server ignores Range. Only a full-file request of an
      // unchanged file may be answered with 200.
      const fullRequest = start === 0 && end === pin.size && Number(one(res.headers, 'content-length')) === pin.size;
      if (!fullRequest || (pin.etag !== undefined && etag === undefined)) throw changed('200 instead of 206: If-Range did not match');
    } else {
      throw this.#statusError(status, 'GET', res);
    }
    if (res.chunked) {
      // The raw transport's body is exactly Content-Length bytes, in large views: only the length needs checking.
      const length = Number(one(res.headers, 'content-length'));
      if (length > end - start) {
        res.body.destroy();
        throw new SourceChangedError(`${what}: more bytes than the ${end - start} requested`);
      }
      if (length < end - start) {
        res.body.destroy();
        throw new SourceUnavailableError(`${what}: body has ${length} of ${end - start} bytes`);
      }
      return res.body;
    }
    return chunkBody(res.body, end - start, this.#chunk, what);
  }

  attributes(): ObjectAttributes | undefined {
    return this.#attributes;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.destroy()));
    this.#pools.clear();
    this.#raw?.destroy();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}
