/**
 * The port the worker and coordinator use to write a multipart object. One implementation over ali-oss
 * (./part-sink.ts); tests run it against the local OSS. CRC-64 values are bigint.
 */
import type { Readable } from 'node:stream';
import { OssferryError } from '../../shared/errors.ts';

/** A part as OSS lists it (ListParts). */
export interface ListedPart {
  partNumber: number;
  /** Quoted ETag as OSS returned it. */
  etag: string;
  size: number;
  /** The part's CRC-64 as OSS lists it (HashCrc64ecma), when the server sends one. */
  crc64?: bigint;
}

/** An uploaded part, verified: `crc64` is ours and equals OSS's x-oss-hash-crc64ecma. */
export interface UploadedPart {
  etag: string;
  crc64: bigint;
  size: number;
}

export interface CompleteOptions {
  /** Replace an existing object. Default false: x-oss-forbid-overwrite: true. */
  overwrite?: boolean;
  signal?: AbortSignal;
}

export interface CompletedObject {
  etag: string;
  /** Whole-object CRC-64 from CompleteMultipartUpload; absent when a part had none (OSS returns it only if every part has one). */
  crc64?: bigint;
}

export interface InitiateOptions {
  /** x-oss-meta-* metadata (OSS takes metadata at Initiate, not at Complete). */
  meta?: Record<string, string>;
  /** Default false: fail early with DestinationExistsError if the object exists (checked again at Complete). */
  overwrite?: boolean;
  /** Further Initiate headers (lower-case): content-type, cache-control, x-oss-storage-class, x-oss-server-side-encryption, … */
  headers?: Record<string, string>;
}

export interface PartSink {
  readonly bucket: string;
  readonly key: string;
  /** Set after initiate() or when constructed for an existing upload. */
  readonly uploadId: string | undefined;
  initiate(options?: InitiateOptions): Promise<string>;
  /**
   * Uploads `size` bytes as part `partNumber`, computing CRC-64 while streaming and comparing it with the
   * response's x-oss-hash-crc64ecma (mismatch → IntegrityError). A Readable body is consumed: to retry,
   * read the range again.
   */
  uploadPart(partNumber: number, body: Readable | Uint8Array, size: number, signal?: AbortSignal): Promise<UploadedPart>;
  /** All parts uploaded so far (every ListParts page). */
  listParts(signal?: AbortSignal): Promise<ListedPart[]>;
  complete(parts: ReadonlyArray<{ partNumber: number; etag: string }>, options?: CompleteOptions): Promise<CompletedObject>;
  /** Aborts the upload; succeeds if it is already gone. */
  abort(): Promise<void>;
}

/** The destination exists and the job does not allow overwriting it (409 FileAlreadyExists). */
export class DestinationExistsError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DestinationExists', message, options);
  }
}
