/**
 * OSS source over ali-oss: `stat()` = HEAD (size, ETag, whole-object x-oss-hash-crc64ecma, Last-Modified);
 * `read()` = getStream with `Range`, `If-Match` on the pinned ETag and `x-oss-range-behavior: standard`
 * (without it OSS answers an out-of-range Range with 200 and the whole object), and
 * the answer must be 206 with the exact Content-Range. A ranged GET carries the WHOLE object's CRC-64
 * (OSS API reference, GetObject), which is compared with the pinned one as a second change detector.
 */
import type OSS from 'ali-oss';
import { Readable } from 'node:stream';
import { attributesFromHeaders, type ObjectAttributes } from '../../shared/attributes.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { chunkBody, DEFAULT_CHUNK_SIZE } from './chunker.ts';
import { SourceChangedError, SourceUnavailableError, type RangeSource, type SourceIdentity } from './types.ts';

type Headers = Record<string, string | string[] | undefined>;
const header = (h: Headers | undefined, name: string): string | undefined => {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
};

export interface OssSourceOptions {
  /** ali-oss client for the source bucket (any region/endpoint): functions/oss/client.ts. */
  client: OSS;
  bucket: string;
  key: string;
  /** Per-request timeout in ms (ali-oss: until the response headers for streams). Default 120 s. */
  timeoutMs?: number;
  /** Size of the chunks `read()` streams deliver. Default 1 MiB. */
  chunkSize?: number;
}

const isNetwork = (e: { status?: number }) => e.status === -1 || e.status === -2;

/** An oss://bucket/key source. */
export class OssSource implements RangeSource {
  readonly displayUrl: string;
  readonly #client: OSS;
  readonly #key: string;
  readonly #timeout: number;
  readonly #chunk: number;
  #attributes: ObjectAttributes | undefined;
  #objectType: string | undefined;

  constructor(options: OssSourceOptions) {
    this.#client = options.client;
    this.#key = options.key;
    this.#timeout = options.timeoutMs ?? 120_000;
    this.#chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.displayUrl = `oss://${options.bucket}/${options.key}`;
  }

  #wrap(err: unknown, what: string, atStat: boolean): unknown {
    const e = err as { status?: number; code?: string; message?: string };
    if (e?.status === 412) return new SourceChangedError(`${this.displayUrl}: ${what}: changed since it was planned (412)`, { cause: err });
    if (e?.status === 404) {
      return atStat
        ? new InvalidInputError('source', `${this.displayUrl} does not exist (${e.code ?? 404})`, 'check the bucket, key and region of the source')
        : new SourceChangedError(`${this.displayUrl}: ${what}: object is gone`, { cause: err });
    }
    if (e?.status === 403) {
      return new InvalidInputError('source', `${this.displayUrl}: access denied (${e.code ?? 403})`, 'grant the function role oss:GetObject on the source bucket');
    }
    if (isNetwork(e) || (e?.status ?? 0) >= 500 || e?.status === 429) {
      return Object.assign(new SourceUnavailableError(`${this.displayUrl}: ${what}: ${e.message ?? 'failed'}`, { cause: err }), { status: e.status });
    }
    return err;
  }

  async stat(): Promise<SourceIdentity> {
    let h: Headers;
    try {
      const r = await this.#client.head(this.#key, { timeout: this.#timeout });
      h = (r.res as unknown as { headers: Headers }).headers;
    } catch (err) {
      throw this.#wrap(err, 'HEAD', true);
    }
    this.#attributes = attributesFromHeaders(h);
    this.#objectType = header(h, 'x-oss-object-type');
    const id: SourceIdentity = { size: Number(header(h, 'content-length')) };
    const etag = header(h, 'etag');
    if (etag) id.etag = etag;
    const crc = header(h, 'x-oss-hash-crc64ecma');
    if (crc !== undefined) id.crc64 = crc64FromWire(crc, 'x-oss-hash-crc64ecma');
    const lm = header(h, 'last-modified');
    if (lm && !Number.isNaN(Date.parse(lm))) id.mtimeMs = Date.parse(lm);
    return id;
  }

  async read(start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > pin.size) {
      throw new InvalidInputError('range', `[${start}, ${end}) is not within [0, ${pin.size})`, 'request a range inside the pinned size');
    }
    if (end === start) return Readable.from([]);
    signal?.throwIfAborted();
    const headers: Record<string, string> = { Range: `bytes=${start}-${end - 1}`, 'x-oss-range-behavior': 'standard' };
    if (pin.etag) headers['If-Match'] = pin.etag;
    let r: { stream: Readable; res: { status: number; headers: Headers } };
    try {
      r = (await this.#client.getStream(this.#key, { headers, timeout: this.#timeout })) as unknown as typeof r;
    } catch (err) {
      throw this.#wrap(err, `GET [${start}, ${end})`, false);
    }
    const h = r.res.headers;
    const fail = (err: Error) => {
      r.stream.destroy();
      return err;
    };
    const expect = `bytes ${start}-${end - 1}/${pin.size}`;
    if (r.res.status !== 206 || header(h, 'content-range') !== expect) {
      throw fail(new SourceChangedError(`${this.displayUrl}: asked for ${expect}, got ${r.res.status} ${header(h, 'content-range') ?? ''}`));
    }
    const crc = header(h, 'x-oss-hash-crc64ecma');
    if (pin.crc64 !== undefined && crc !== undefined && crc64FromWire(crc, 'x-oss-hash-crc64ecma') !== pin.crc64) {
      throw fail(new SourceChangedError(`${this.displayUrl}: whole-object CRC-64 ${crc} ≠ pinned ${pin.crc64}`));
    }
    // ali-oss hands on socket-sized chunks: coalesced into large ones, and the byte count proven.
    const body = chunkBody(r.stream, end - start, this.#chunk, `${this.displayUrl} bytes [${start}, ${end})`);
    if (signal) {
      const onAbort = () => body.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      body.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return body;
  }

  attributes(): ObjectAttributes | undefined {
    return this.#attributes;
  }

  serverCopyable(): boolean {
    // UploadPartCopy cannot copy Appendable objects (OSS API reference); Normal and Multipart objects it can.
    return this.#objectType !== undefined && this.#objectType !== 'Appendable';
  }

  async close(): Promise<void> {
    // ali-oss shares a process-wide keep-alive agent: nothing to release per source.
  }
}
