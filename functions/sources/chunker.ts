/**
 * Re-chunking of source bodies: CRC-64 and the upload work best on large buffers, while sockets and client
 * libraries deliver 16–64 KiB reads (ali-oss streams: a median of 129 chunks per 8 MiB part). Every source
 * that does not read into large buffers itself passes its body through SizedChunker, which also proves the
 * body has exactly the bytes asked for (truncation and extra bytes both fail).
 */
import { finished, Transform, type Readable, type TransformCallback } from 'node:stream';
import { OssferryError } from '../../shared/errors.ts';
import { SourceChangedError, SourceUnavailableError } from './types.ts';

/** Size of the chunks sources deliver (the last chunk of a range may be smaller). */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

/** Re-chunks a body into `chunkSize` buffers and checks it has exactly `expected` bytes. */
export class SizedChunker extends Transform {
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

/**
 * `body` re-chunked and counted. A body that breaks (reset, premature close) fails as SourceUnavailableError,
 * so callers retry the range instead of seeing a transport error; closing the result stops the body.
 */
export function chunkBody(body: Readable, expected: number, chunkSize: number, what: string): SizedChunker {
  const chunker = new SizedChunker(expected, chunkSize, what);
  finished(body, (err) => {
    if (err && !chunker.destroyed) {
      chunker.destroy(err instanceof OssferryError ? err : new SourceUnavailableError(`${what}: the body broke off: ${err.message}`, { cause: err }));
    }
  });
  chunker.once('close', () => body.destroy());
  body.pipe(chunker);
  return chunker;
}
