/**
 * PartSink over ali-oss. ali-oss's public uploadPart() takes a file path; the stream variant is the
 * underscore `_uploadPart(name, uploadId, partNo, {stream, size})`,
 * wrapped here so nothing else touches a private API. ali-oss has no CRC-64 at all: the
 * body streams through a CRC-64 pass-through and the result is compared with the response's
 * x-oss-hash-crc64ecma. ali-oss never retries stream bodies and the client is built with retryMax 0:
 * the caller retries a failed part by reading its range again.
 */
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import type OSS from 'ali-oss';
import { crc64 } from '../../shared/crc64/index.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { IntegrityError, InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { OSS as LIMITS } from '../../shared/limits.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import { DestinationExistsError, type CompleteOptions, type CompletedObject, type InitiateOptions, type ListedPart, type PartSink, type UploadedPart } from './types.ts';

/** ali-oss's private stream upload (lib/common/multipart.js `_uploadPart`), typed. */
type UploadPartFn = (
  name: string,
  uploadId: string,
  partNo: number,
  data: { stream: Readable; size: number },
  options?: { timeout?: number; headers?: Record<string, string> },
) => Promise<{ etag: string; res: { status: number; headers: Record<string, string | undefined> } }>;

/** A body whose chunk memory the source reuses once the consumer releases it (functions/sources/raw-http.ts). */
interface ReleasableBody {
  releaseChunk(chunk: Uint8Array): void;
}

const isReleasable = (b: unknown): b is ReleasableBody => typeof (b as Partial<ReleasableBody>).releaseChunk === 'function';

/** Passes bytes through unchanged, computing CRC-64 and counting them. */
export class Crc64PassThrough extends Transform {
  crc = 0n;
  bytes = 0;
  readonly expected: number | undefined;
  readonly #release: ((chunk: Uint8Array) => void) | undefined;
  /**
   * With `expected`, a body that is shorter or longer errors the stream (so the request is aborted, not left
   * waiting). With `release`, `pipe()` writes each chunk with a callback and releases it once the destination
   * has written it out (for a socket: handed to the kernel), so the source can reuse its memory.
   */
  constructor(expected?: number, highWaterMark = 4 * 1024 * 1024, release?: (chunk: Uint8Array) => void) {
    super({ highWaterMark });
    this.expected = expected;
    this.#release = release;
  }

  /**
   * Like Readable#pipe (ali-oss's HTTP client pipes the body into its request), plus the per-chunk release.
   * Errors and teardown stay with the caller's pipeline (the client destroys both streams on failure); a
   * chunk whose write fails is simply not released.
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const release = this.#release;
    if (!release) return super.pipe(destination, options);
    const dest = destination as unknown as Writable;
    let waiting = false;
    const onDrain = () => {
      waiting = false;
      this.resume();
    };
    this.on('data', (chunk: Buffer) => {
      const more = dest.write(chunk, (err) => {
        if (!err) release(chunk);
      });
      if (!more && !waiting) {
        waiting = true;
        this.pause();
        dest.once('drain', onDrain);
      }
    });
    if (options?.end !== false) this.once('end', () => dest.end());
    dest.emit('pipe', this);
    return destination;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expected !== undefined && this.bytes > this.expected) {
      return cb(new IntegrityError(`part body is longer than the declared ${this.expected} bytes`));
    }
    this.crc = crc64(chunk, this.crc);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expected !== undefined && this.bytes !== this.expected) {
      return cb(new IntegrityError(`part body ended after ${this.bytes} of ${this.expected} bytes`));
    }
    cb();
  }
}

type Headers = Record<string, string | string[] | undefined>;
const header = (h: Headers | undefined, name: string): string | undefined => {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Per-request timeout for a part: ali-oss's timeout covers the whole request, body included. */
export function partTimeoutMs(size: number): number {
  // At least 2 min, plus 1 s per MiB (a 1 MiB/s floor): generous enough to never cut a healthy part.
  return 120_000 + Math.ceil(size / (1024 * 1024)) * 1000;
}

/** The object an UploadPartCopy reads: same region as the destination, pinned by its ETag (and version, when known). */
export interface CopySource {
  bucket: string;
  key: string;
  etag: string;
  versionId?: string;
}

export interface OssPartSinkOptions {
  client: OSS;
  bucket: string;
  key: string;
  /** Attach to an existing upload (worker, resume). */
  uploadId?: string;
  logger?: Logger;
}

/** A multipart upload to one object. */
export class OssPartSink implements PartSink {
  readonly bucket: string;
  readonly key: string;
  #uploadId: string | undefined;
  readonly #client: OSS;
  readonly #log: Logger;

  constructor(options: OssPartSinkOptions) {
    this.#client = options.client;
    this.bucket = options.bucket;
    this.key = options.key;
    this.#uploadId = options.uploadId;
    this.#log = options.logger ?? silentLogger;
  }

  get uploadId(): string | undefined {
    return this.#uploadId;
  }

  #requireUpload(): string {
    if (!this.#uploadId) throw new InvalidInputError('uploadId', 'no multipart upload is open', 'call initiate() first or pass uploadId');
    return this.#uploadId;
  }

  #where(): string {
    return `oss://${this.bucket}/${this.key}`;
  }

  #mapError(err: unknown, what: string): unknown {
    const e = err as { status?: number; code?: string; message?: string };
    if (e?.status === 409 && e.code === 'FileAlreadyExists') {
      return new DestinationExistsError(`${this.#where()} already exists and overwrite is off`, { cause: err });
    }
    if (err instanceof Error && !(err instanceof OssferryError) && typeof e.status === 'number') {
      err.message = `${what} ${this.#where()}: ${err.message}`;
    }
    return err;
  }

  async initiate(options: InitiateOptions = {}): Promise<string> {
    const { 'content-type': contentType, ...headers } = options.headers ?? {};
    // OSS records it with the upload; Complete then refuses to replace an existing object (409 FileAlreadyExists).
    if (!options.overwrite) headers['x-oss-forbid-overwrite'] = 'true';
    try {
      const r = await this.#client.initMultipartUpload(this.key, {
        headers,
        ...(options.meta ? { meta: options.meta as unknown as OSS.UserMeta } : {}),
        // ali-oss derives a Content-Type from the key unless given one.
        ...(contentType ? { mime: contentType } : {}),
      });
      this.#uploadId = r.uploadId;
      this.#log.info('multipart upload initiated', { destination: this.#where(), uploadId: r.uploadId });
      return r.uploadId;
    } catch (err) {
      throw this.#mapError(err, 'InitiateMultipartUpload');
    }
  }

  async uploadPart(partNumber: number, body: Readable | Uint8Array, size: number, signal?: AbortSignal): Promise<UploadedPart> {
    const uploadId = this.#requireUpload();
    if (!Number.isInteger(partNumber) || partNumber < LIMITS.MIN_PART_NUMBER || partNumber > LIMITS.MAX_PART_NUMBER) {
      throw new InvalidInputError('partNumber', `must be 1..10000, got ${partNumber}`, 'use the part numbers from the plan');
    }
    if (!Number.isSafeInteger(size) || size < 0 || size > LIMITS.MAX_PART_SIZE) {
      throw new InvalidInputError('size', `must be 0..5 GB, got ${size}`, 'use the part sizes from the plan');
    }
    const crcStream = new Crc64PassThrough(size, undefined, isReleasable(body) ? (chunk) => body.releaseChunk(chunk) : undefined);
    const source = body instanceof Uint8Array ? Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]) : body;
    let sourceError: unknown;
    source.on('error', (err) => {
      sourceError = err;
      crcStream.destroy(err);
    });
    crcStream.on('error', (err) => {
      sourceError ??= err;
    });
    source.pipe(crcStream);
    const onAbort = () => {
      sourceError ??= signal?.reason;
      source.destroy();
      crcStream.destroy(signal?.reason as Error);
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let res: Awaited<ReturnType<UploadPartFn>>;
    const started = performance.now();
    try {
      const upload = (this.#client as unknown as { _uploadPart: UploadPartFn })._uploadPart;
      res = await upload.call(this.#client, this.key, uploadId, partNumber, { stream: crcStream, size }, { timeout: partTimeoutMs(size) });
    } catch (err) {
      // A failing source (SourceChanged, a dropped source socket) is the real cause, not the aborted upload.
      throw sourceError ?? this.#mapError(err, `UploadPart ${partNumber}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (sourceError) throw sourceError;
    if (crcStream.bytes !== size) {
      throw new IntegrityError(`part ${partNumber} of ${this.#where()}: sent ${crcStream.bytes} bytes, expected ${size}`);
    }
    const ossCrc = header(res.res.headers as Headers, 'x-oss-hash-crc64ecma');
    if (ossCrc === undefined) throw new IntegrityError(`part ${partNumber} of ${this.#where()}: OSS returned no x-oss-hash-crc64ecma`);
    const theirs = crc64FromWire(ossCrc, 'x-oss-hash-crc64ecma');
    if (theirs !== crcStream.crc) {
      throw new IntegrityError(`part ${partNumber} of ${this.#where()}: CRC-64 mismatch, sent ${crcStream.crc}, OSS stored ${theirs}`);
    }
    // The one line per stored part (both workers upload through here): `bytes` feeds the SLS throughput chart.
    const durationMs = Math.round(performance.now() - started);
    this.#log.info('part uploaded', { partNumber, bytes: size, seconds: durationMs / 1000, durationMs });
    return { etag: res.etag, crc64: crcStream.crc, size };
  }

  /** One ListParts page: parts after `marker`, at most `max`; and the marker of the next page when truncated. */
  async #listPage(uploadId: string, max: number, marker: string | undefined): Promise<{ parts: ListedPart[]; next?: string }> {
    const query: Record<string, string | number> = { 'max-parts': max };
    if (marker) query['part-number-marker'] = marker;
    const r = await this.#client.listParts(this.key, uploadId, query as unknown as OSS.ListPartsQuery);
    const raw = (Array.isArray(r.parts) ? r.parts : r.parts ? [r.parts] : []) as unknown as Array<{ PartNumber: string; ETag: string; Size: string; HashCrc64ecma?: string }>;
    const parts = raw.map((p) => {
      const listed: ListedPart = { partNumber: Number(p.PartNumber), etag: p.ETag, size: Number(p.Size) };
      // Real OSS lists each part's CRC-64; a malformed one is treated as absent (the part is then proven otherwise).
      if (typeof p.HashCrc64ecma === 'string') {
        try {
          listed.crc64 = crc64FromWire(p.HashCrc64ecma, 'HashCrc64ecma');
        } catch {
          // unusable: left out
        }
      }
      return listed;
    });
    // ali-oss returns IsTruncated raw, as a string ("true"/"false").
    const truncated = String(r.isTruncated) === 'true';
    return truncated && r.nextPartNumberMarker ? { parts, next: String(r.nextPartNumberMarker) } : { parts };
  }

  async listParts(): Promise<ListedPart[]> {
    const uploadId = this.#requireUpload();
    const out: ListedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.#listPage(uploadId, 1000, marker);
        out.push(...page.parts);
        marker = page.next;
      } while (marker);
    } catch (err) {
      throw this.#mapError(err, 'ListParts');
    }
    return out.sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * Server-side copy of bytes [start, end) of `source` (same region) into part `partNumber` (UploadPartCopy):
   * no bytes pass through this process. Pinned with x-oss-copy-source-if-match on the source's ETag (a changed
   * source answers 412 PreconditionFailed). OSS documents no CRC-64 in the answer, so the part's CRC-64 comes
   * from the answer when one is sent, else from ListParts (HashCrc64ecma) for exactly this part; a part whose
   * CRC-64 OSS states nowhere, or whose listed ETag or size differ, is an IntegrityError.
   */
  async copyPart(partNumber: number, source: CopySource, start: number, end: number): Promise<UploadedPart> {
    const uploadId = this.#requireUpload();
    const size = end - start;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || size < 1 || size > LIMITS.MAX_PART_SIZE) {
      throw new InvalidInputError('range', `[${start}, ${end}) is not a copyable part (1 B..5 GB)`, 'use the part ranges from the plan');
    }
    const started = performance.now();
    let res: { etag: string; res: { headers: Headers } };
    try {
      res = (await this.#client.uploadPartCopy(this.key, uploadId, partNumber, `${start}-${end - 1}`, { sourceKey: source.key, sourceBucketName: source.bucket }, {
        headers: { 'x-oss-copy-source-if-match': source.etag },
        ...(source.versionId ? { versionId: source.versionId } : {}),
        timeout: partTimeoutMs(size),
      } as never)) as unknown as typeof res;
    } catch (err) {
      throw this.#mapError(err, `UploadPartCopy ${partNumber}`);
    }
    const etag = res.etag ?? header(res.res.headers, 'etag');
    const range = header(res.res.headers, 'content-range');
    if (range !== undefined && !range.startsWith(`bytes ${start}-${end - 1}/`)) {
      throw new IntegrityError(`part ${partNumber} of ${this.#where()}: UploadPartCopy copied ${range}, asked for bytes ${start}-${end - 1}`);
    }
    let crc: bigint | undefined;
    const answered = header(res.res.headers, 'x-oss-hash-crc64ecma');
    if (answered !== undefined) crc = crc64FromWire(answered, 'x-oss-hash-crc64ecma');
    else {
      let listed: ListedPart | undefined;
      try {
        listed = (await this.#listPage(uploadId, 1, partNumber > 1 ? String(partNumber - 1) : undefined)).parts.find((p) => p.partNumber === partNumber);
      } catch (err) {
        throw this.#mapError(err, 'ListParts');
      }
      if (!listed || listed.etag !== etag || listed.size !== size) {
        throw new IntegrityError(`part ${partNumber} of ${this.#where()}: ListParts does not show the copied part (${listed ? `ETag ${listed.etag}, ${listed.size} bytes` : 'not listed'}; copied ETag ${etag}, ${size} bytes)`);
      }
      crc = listed.crc64;
    }
    if (crc === undefined || !etag) {
      // Not transient: copying the part again would not make OSS state one.
      throw Object.assign(
        new IntegrityError(
          `part ${partNumber} of ${this.#where()}: OSS stated no CRC-64 for the server-copied part (neither UploadPartCopy nor ListParts), so it cannot be proven. Fix: pass the source's endpoint (--source-endpoint https://oss-<region>-internal.aliyuncs.com) so workers stream and check the bytes`,
        ),
        { retryable: false },
      );
    }
    const durationMs = Math.round(performance.now() - started);
    this.#log.info('part copied server-side', { partNumber, bytes: size, seconds: durationMs / 1000, durationMs });
    return { etag, crc64: crc, size };
  }

  async complete(parts: ReadonlyArray<{ partNumber: number; etag: string }>, options: CompleteOptions = {}): Promise<CompletedObject> {
    const uploadId = this.#requireUpload();
    const headers: Record<string, string> = {};
    if (!options.overwrite) headers['x-oss-forbid-overwrite'] = 'true';
    try {
      const r = await this.#client.completeMultipartUpload(
        this.key,
        uploadId,
        parts.map((p) => ({ number: p.partNumber, etag: p.etag })),
        { headers } as OSS.CompleteMultipartUploadOptions,
      );
      const h = (r.res as unknown as { headers: Headers }).headers;
      const out: CompletedObject = { etag: r.etag ?? header(h, 'etag') ?? '' };
      const crc = header(h, 'x-oss-hash-crc64ecma');
      if (crc !== undefined) out.crc64 = crc64FromWire(crc, 'x-oss-hash-crc64ecma');
      this.#log.info('multipart upload completed', { destination: this.#where(), uploadId, parts: parts.length });
      return out;
    } catch (err) {
      throw this.#mapError(err, 'CompleteMultipartUpload');
    }
  }

  async abort(): Promise<void> {
    const uploadId = this.#requireUpload();
    try {
      await this.#client.abortMultipartUpload(this.key, uploadId);
      this.#log.info('multipart upload aborted', { destination: this.#where(), uploadId });
    } catch (err) {
      if ((err as { code?: string }).code === 'NoSuchUpload') return;
      throw this.#mapError(err, 'AbortMultipartUpload');
    }
  }
}
