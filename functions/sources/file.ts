/**
 * Local file source (`file:///absolute/path`), for the local cloud, tests and benchmarks. A function has no
 * business reading its own filesystem because a job spec says so (its env holds credentials under /proc), so
 * the source only exists inside a root directory the deployment names (OSSFERRY_FILE_SOURCE_ROOT; the stack
 * never sets it): the path is resolved (symlinks included) and must lie inside the resolved root.
 *
 * Identity: a version tag of (dev, inode, size, mtime ns), compared with the file's fstat when each read
 * opens it and again after the range's last byte, so a change between stat and read (or during it) is
 * refused; and the CRC-64 of the content, computed at stat (one extra sequential read), so a same-size
 * rewrite inside one filesystem timestamp tick, which the tag cannot see, still fails the job's
 * whole-object CRC check instead of passing as a spliced object.
 */
import { constants, type BigIntStats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { crc64 } from '../../shared/crc64/index.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { DEFAULT_CHUNK_SIZE } from './chunker.ts';
import { SourceRefusedError } from './screen.ts';
import { SourceChangedError, type RangeSource, type SourceIdentity } from './types.ts';

export interface FileSourceOptions {
  /** Absolute path of the file. */
  path: string;
  /** The directory file sources may read (OSSFERRY_FILE_SOURCE_ROOT); the resolved file must lie inside it. */
  root: string;
  /** Size of the chunks read() delivers (the range's last may be smaller). Default 1 MiB. */
  chunkSize?: number;
}

/** The refusal when a deployment has not enabled file sources, naming the fix. */
export function fileSourcesDisabled(): SourceRefusedError {
  return new SourceRefusedError(
    'source',
    'file:// sources are disabled here: a function does not read its own filesystem because a job names a path',
    `copy from http(s)://, oss:// or sftp://; for the local cloud, tests or benchmarks set ${FUNCTION_ENV.FILE_SOURCE_ROOT} to the directory file sources may read`,
  );
}

const tagOf = (st: BigIntStats) => `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
const STAT_READ = 8 * 1024 * 1024;

export class FileSource implements RangeSource {
  readonly displayUrl: string;
  readonly #path: string;
  readonly #root: string;
  readonly #chunk: number;

  constructor(options: FileSourceOptions) {
    if (!path.isAbsolute(options.path)) throw new InvalidInputError('source', `${JSON.stringify(options.path)} is not an absolute path`, 'write file:///absolute/path');
    if (!path.isAbsolute(options.root)) throw new InvalidInputError(FUNCTION_ENV.FILE_SOURCE_ROOT, `${JSON.stringify(options.root)} is not an absolute path`, 'set it to an absolute directory');
    this.#path = options.path;
    this.#root = options.root;
    this.#chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.displayUrl = pathToFileURL(options.path).href;
  }

  /** Opens the file after resolving it inside the root; `gone` makes the error for a file that is not there. */
  async #open(gone: (why: string) => Error): Promise<{ fh: FileHandle; st: BigIntStats }> {
    const root = await realpath(this.#root).catch((err: NodeJS.ErrnoException) => {
      throw new InvalidInputError(FUNCTION_ENV.FILE_SOURCE_ROOT, `${JSON.stringify(this.#root)} cannot be resolved (${err.code})`, 'set it to an existing directory');
    });
    const real = await realpath(this.#path).catch((err: NodeJS.ErrnoException) => {
      throw gone(err.code ?? err.message);
    });
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new SourceRefusedError('source', `${this.displayUrl} resolves outside ${FUNCTION_ENV.FILE_SOURCE_ROOT}`, `copy files from inside ${root}, or name another root`);
    }
    // O_NOFOLLOW: the last component cannot have been swapped for a symlink since it was resolved.
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      throw gone(err.code ?? err.message);
    });
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) {
      await fh.close();
      throw new InvalidInputError('source', `${this.displayUrl} is not a regular file`, 'name a file, not a directory or device');
    }
    return { fh, st };
  }

  async stat(signal?: AbortSignal): Promise<SourceIdentity> {
    const { fh, st } = await this.#open((why) => new InvalidInputError('source', `${this.displayUrl} cannot be opened (${why})`, 'check the path'));
    try {
      let crc = 0n;
      const buf = Buffer.allocUnsafe(STAT_READ);
      for (let pos = 0; ; ) {
        signal?.throwIfAborted();
        const { bytesRead } = await fh.read(buf, 0, STAT_READ, pos);
        if (bytesRead === 0) break;
        crc = crc64(buf.subarray(0, bytesRead), crc);
        pos += bytesRead;
      }
      const after = await fh.stat({ bigint: true });
      if (tagOf(after) !== tagOf(st)) throw new SourceChangedError(`${this.displayUrl} changed while its CRC-64 was computed`);
      return { size: Number(st.size), etag: tagOf(st), crc64: crc, mtimeMs: Number(st.mtimeNs / 1_000_000n) };
    } finally {
      await fh.close();
    }
  }

  async read(start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > pin.size) {
      throw new InvalidInputError('range', `[${start}, ${end}) is not within [0, ${pin.size})`, 'request a range inside the pinned size');
    }
    if (end === start) return Readable.from([]);
    signal?.throwIfAborted();
    const { fh, st } = await this.#open((why) => new SourceChangedError(`${this.displayUrl} is gone (${why})`));
    if (tagOf(st) !== pin.etag) {
      await fh.close();
      throw new SourceChangedError(`${this.displayUrl} changed since it was planned (${tagOf(st)} ≠ ${pin.etag})`);
    }
    const stream = new FileRange(fh, start, end, pin.etag, this.#chunk, `${this.displayUrl} bytes [${start}, ${end})`);
    if (signal) {
      const onAbort = () => stream.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return stream;
  }

  async close(): Promise<void> {
    // Each read opens and closes its own handle.
  }
}

/** Bytes [start, end) of an open file in `chunk`-sized buffers; the file's tag is checked again after the last. */
class FileRange extends Readable {
  readonly #fh: FileHandle;
  readonly #end: number;
  readonly #tag: string;
  readonly #chunk: number;
  readonly #what: string;
  #pos: number;

  constructor(fh: FileHandle, start: number, end: number, tag: string, chunk: number, what: string) {
    super({ highWaterMark: chunk });
    this.#fh = fh;
    this.#pos = start;
    this.#end = end;
    this.#tag = tag;
    this.#chunk = chunk;
    this.#what = what;
  }

  override _read(): void {
    this.#next().then(
      (more) => {
        if (!more) this.push(null);
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  async #unchanged(): Promise<void> {
    const now = tagOf(await this.#fh.stat({ bigint: true }));
    if (now !== this.#tag) throw new SourceChangedError(`${this.#what}: the file changed during the read (${now} ≠ ${this.#tag})`);
  }

  /** Pushes the next chunk; false once the range is done and the file proved unchanged. */
  async #next(): Promise<boolean> {
    if (this.#pos >= this.#end) {
      await this.#unchanged();
      return false;
    }
    const n = Math.min(this.#chunk, this.#end - this.#pos);
    const buf = Buffer.allocUnsafe(n);
    for (let got = 0; got < n; ) {
      const { bytesRead } = await this.#fh.read(buf, got, n - got, this.#pos + got);
      if (this.destroyed) return true;
      if (bytesRead === 0) {
        await this.#unchanged();
        throw new SourceChangedError(`${this.#what}: the file ended after ${this.#pos + got} bytes`);
      }
      got += bytesRead;
    }
    this.#pos += n;
    this.push(buf);
    return true;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#fh.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
}
