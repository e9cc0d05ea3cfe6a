/**
 * The one interface every source of the registry (shared/sources.ts: HTTP(S), OSS, SFTP, file) implements.
 * The coordinator calls `stat()` once; workers receive that identity in their task and every `read()` is
 * pinned to it, so a source that changes mid-copy fails cleanly instead of producing a spliced object (If-Match on a strong ETag, RFC 9110 §13.1.1).
 */
import type { Readable } from 'node:stream';
import { OssferryError } from '../../shared/errors.ts';
import type { ObjectAttributes } from '../../shared/attributes.ts';
import type { SourceFingerprint } from '../../shared/job.ts';

/** What stat() returns and every read() is pinned to: one version of the source (size, ETag, CRC-64, mtime). */
export type SourceIdentity = SourceFingerprint;

export interface RangeSource {
  /** Location safe for logs: no credentials, no query string. */
  readonly displayUrl: string;
  stat(signal?: AbortSignal): Promise<SourceIdentity>;
  /**
   * Bytes [start, end) of the source exactly as identified by `pin`. Rejects (or errors the stream) with
   * SourceChangedError when the source no longer matches `pin`.
   */
  read(start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<Readable>;
  /** Releases pooled connections (SFTP sessions, keep-alive agents). */
  close(): Promise<void>;
  /**
   * What the last stat() learnt about the object besides its bytes (Content-Type, Cache-Control, …,
   * x-oss-meta-*), for kinds that have such attributes (HTTP, OSS); undefined before stat().
   */
  attributes?(): ObjectAttributes | undefined;
  /**
   * OSS sources: whether OSS can copy the object stat() saw server-side (UploadPartCopy refuses Appendable
   * objects). Absent for other kinds: never server-copyable.
   */
  serverCopyable?(): boolean;
}

/** The source is not the object the job was planned against (size/ETag/mtime changed). Never retried. */
export class SourceChangedError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SourceChanged', message, options);
  }
}

/** A source could not be read for a reason that may pass (network, 5xx, throttling). Retried with backoff. */
export class SourceUnavailableError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SourceUnavailable', message, options);
  }
}
