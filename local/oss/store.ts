/**
 * On-disk object store for the local OSS server. Never holds an object in memory:
 * - bodies stream into `tmp/`, are fsynced, then renamed into `data/` (a half-received body never becomes visible);
 * - an object is a list of segment files (one for Put, one per part for Multipart, one per append), so
 *   CompleteMultipartUpload is O(parts) renames with no byte copying, and its CRC is combined, not re-read
 *   (OSS does the same: Complete's CRC exists only when every part has one);
 * - metadata is one JSON file per object / upload / part, written to a temp name then renamed, and reloaded
 *   on start, so a restart keeps every bucket, object and in-progress upload.
 * - crash consistency (kill -9 at any step): every change becomes visible by one rename (object or part metadata,
 *   a bucket built in tmp/) or disappears by one (an upload or bucket directory moved into tmp/ before it is
 *   removed); what a crash can leave behind is repaired by open(): tmp/ emptied, an upload whose parts an object
 *   already uses (Complete crashed before dropping it) dropped, data files nothing references unlinked.
 * Files still being read when their object is replaced or deleted are unlinked only after the last reader ends.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc64Combine, crc64FromWire, crc64ToWire } from '../../shared/crc64/index.ts';
import { OssferryError } from '../../shared/errors.ts';
import { crashHook, type CrashPoint } from './crash-points.ts';
import { OssError } from './errors.ts';
import { HashPool, type BodyHash } from './hash-pool.ts';
import { deleteLatest, findVersion, latestOf, putVersion, removeVersion, versionIdOf, type KeyVersions, type Transition, type VersioningStatus } from './versions.ts';

export interface Segment {
  /** File name under `data/`. */
  file: string;
  size: number;
}

export type ObjectType = 'Normal' | 'Multipart' | 'Appendable';

export interface ObjectMeta {
  key: string;
  size: number;
  /** Unquoted upper-case hex (multipart: `HEX-N`). */
  etag: string;
  /** Whole-object CRC-64 as the OSS wire string. */
  crc64: string;
  type: ObjectType;
  lastModified: number;
  contentType: string;
  /** x-oss-meta-* with the prefix stripped, lower-case names. */
  userMeta: Record<string, string>;
  /** Standard headers stored with the object (Cache-Control, Content-Disposition, …). */
  headers: Record<string, string>;
  segments: Segment[];
  /** Set on a bucket with versioning (Enabled: a generated id; Suspended: "null"): versions.ts. */
  versionId?: string;
  /** A delete marker (no data): the key reads as absent while it is the latest version. */
  deleteMarker?: boolean;
}

export interface PartMeta {
  partNumber: number;
  etag: string;
  size: number;
  crc64: string;
  lastModified: number;
  file: string;
}

export interface UploadMeta {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  contentType: string;
  userMeta: Record<string, string>;
  headers: Record<string, string>;
  forbidOverwrite: boolean;
}

interface Upload {
  meta: UploadMeta;
  parts: Map<number, PartMeta>;
}

interface BucketState {
  name: string;
  created: number;
  /** Unset: versioning never enabled on this bucket. */
  versioning?: VersioningStatus;
  /** Current versions (what reads and listings see). */
  objects: Map<string, ObjectMeta>;
  /** Noncurrent versions and delete markers per key, newest first (versioned buckets only). */
  older: Map<string, ObjectMeta[]>;
  uploads: Map<string, Upload>;
}

interface BucketInfo {
  name: string;
  created: number;
  versioning?: VersioningStatus;
}

export interface ReceivedBody {
  tmpPath: string;
  size: number;
  md5: Buffer;
  crc64: bigint;
}

export interface StoreOptions {
  /** fsync data and metadata before renaming them into place (default true). */
  fsync?: boolean;
  /** Buffer size for file streams (default DEFAULT_BUFFER_SIZE). */
  bufferSize?: number;
}

/** Stream buffer size for disk and socket I/O (the bench's raw reference uses the same). */
export const DEFAULT_BUFFER_SIZE = 256 * 1024;

const hashName = (s: string) => createHash('sha256').update(s).digest('hex');
export const randomHex = (bytes: number) => randomBytes(bytes).toString('hex').toUpperCase();

/** OSS multipart ETag: `"<UPPER(md5(concat of the parts' upper-hex ETags as ASCII))>-<N>"` (undocumented; matches the python SDK's fixture). */
export function multipartEtag(partEtags: string[]): string {
  return `${createHash('md5').update(partEtags.join(''), 'ascii').digest('hex').toUpperCase()}-${partEtags.length}`;
}

export class Store {
  readonly dir: string;
  private readonly fsync: boolean;
  readonly bufferSize: number;
  private buckets = new Map<string, BucketState>();
  private pins = new Map<string, number>();
  private pendingUnlink = new Set<string>();
  private locks = new Map<string, Promise<void>>();
  private hashes: HashPool | undefined;
  /** Test hook (crash-points.ts): no-op unless OSSFERRY_OSS_CRASH_AT is set. */
  private readonly crashAt: (point: CrashPoint) => void = crashHook();

  constructor(dir: string, options: StoreOptions = {}) {
    this.dir = dir;
    this.fsync = options.fsync ?? true;
    this.bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  }

  private p(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  dataPath(file: string): string {
    return this.p('data', file);
  }

  /**
   * Creates the layout, loads all metadata and repairs what a crash may have left (see the module doc):
   * leftover temp files, a bucket directory without bucket.json, an upload without upload.json or one already
   * completed, data files nothing references.
   */
  async open(): Promise<void> {
    for (const d of ['buckets', 'data', 'tmp', 'uploads']) await fsp.mkdir(this.p(d), { recursive: true });
    for (const f of await fsp.readdir(this.p('tmp'))) await fsp.rm(this.p('tmp', f), { force: true, recursive: true });
    for (const name of await fsp.readdir(this.p('buckets'))) {
      const info = await this.loadBucketInfo(name);
      if (!info) continue;
      const b: BucketState = { name: info.name, created: info.created, ...(info.versioning ? { versioning: info.versioning } : {}), objects: new Map(), older: new Map(), uploads: new Map() };
      const metaDir = this.p('buckets', name, 'objects');
      for (const f of await fsp.readdir(metaDir)) {
        if (!f.endsWith('.json')) continue;
        const m = JSON.parse(await fsp.readFile(path.join(metaDir, f), 'utf8')) as ObjectMeta;
        b.objects.set(m.key, m);
      }
      await this.loadOlderVersions(b);
      this.buckets.set(name, b);
    }
    const inUse = new Set<string>();
    for (const b of this.buckets.values()) {
      for (const m of b.objects.values()) for (const s of m.segments) inUse.add(s.file);
      for (const list of b.older.values()) for (const m of list) for (const s of m.segments) inUse.add(s.file);
    }
    for (const id of await fsp.readdir(this.p('uploads'))) {
      const dir = this.p('uploads', id);
      let meta: UploadMeta | undefined;
      try {
        meta = JSON.parse(await fsp.readFile(path.join(dir, 'upload.json'), 'utf8')) as UploadMeta;
      } catch {
        meta = undefined; // Initiate crashed before its metadata was in place: nobody got this id.
      }
      const parts = new Map<number, PartMeta>();
      for (const f of meta ? await fsp.readdir(dir) : []) {
        if (!/^\d+\.json$/.test(f)) continue;
        const pm = JSON.parse(await fsp.readFile(path.join(dir, f), 'utf8')) as PartMeta;
        parts.set(pm.partNumber, pm);
      }
      const bucket = meta && this.buckets.get(meta.bucket);
      // An object already made of this upload's parts: Complete committed it and crashed before dropping the upload.
      const completed = [...parts.values()].some((p) => inUse.has(p.file));
      if (!meta || !bucket || completed) {
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      for (const p of parts.values()) inUse.add(p.file);
      bucket.uploads.set(id, { meta, parts });
    }
    // Bodies adopted but never referenced, segments replaced or deleted but not yet unlinked, parts of dropped uploads.
    for (const f of await fsp.readdir(this.p('data'))) if (!inUse.has(f)) await fsp.rm(this.dataPath(f), { force: true });
  }

  /**
   * A bucket's bucket.json. Missing (CreateBucket or DeleteBucket crashed in an older layout that did not stage
   * them): an empty directory is removed, one with objects gets its bucket.json back.
   */
  /**
   * Noncurrent versions (`versions/<key hash>.<version id>.json`). A version file whose id is also the current
   * object's is what a crash between the two writes of a new version leaves (the old current was saved as
   * noncurrent, the new one not yet committed): the current object wins and the copy is removed.
   */
  private async loadOlderVersions(b: BucketState): Promise<void> {
    const dir = this.p('buckets', b.name, 'versions');
    const files = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const f of files) {
      if (!f.endsWith('.json')) continue;
      const m = JSON.parse(await fsp.readFile(path.join(dir, f), 'utf8')) as ObjectMeta;
      const cur = b.objects.get(m.key);
      if (cur && versionIdOf(cur) === versionIdOf(m)) {
        await fsp.rm(path.join(dir, f), { force: true });
        continue;
      }
      const list = b.older.get(m.key) ?? [];
      list.push(m);
      b.older.set(m.key, list);
    }
    for (const list of b.older.values()) list.sort((x, y) => y.lastModified - x.lastModified || (versionIdOf(x) < versionIdOf(y) ? 1 : -1));
  }

  private async loadBucketInfo(name: string): Promise<BucketInfo | undefined> {
    const file = this.p('buckets', name, 'bucket.json');
    try {
      return JSON.parse(await fsp.readFile(file, 'utf8')) as BucketInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const objects = await fsp.readdir(this.p('buckets', name, 'objects')).catch(() => [] as string[]);
    if (!objects.some((f) => f.endsWith('.json'))) {
      await fsp.rm(this.p('buckets', name), { recursive: true, force: true });
      return undefined;
    }
    const info = { name, created: (await fsp.stat(this.p('buckets', name))).mtimeMs };
    await this.writeJson(file, info);
    return info;
  }

  /** Moves a directory into tmp/ (one atomic rename) so that it is gone even if removing it is cut short. */
  private async detach(dir: string, point: CrashPoint): Promise<void> {
    const away = this.p('tmp', `${randomHex(8)}.gone`);
    try {
      await fsp.rename(dir, away);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.crashAt(point);
    await fsp.rm(away, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- helpers

  private async writeJson(file: string, value: unknown): Promise<void> {
    const tmp = this.p('tmp', `${randomHex(8)}.json`);
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(value));
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    this.crashAt('meta:staged');
    await fsp.rename(tmp, file);
  }

  /** Serialises commits per name (object key or upload) so metadata on disk and in memory agree. */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = prev.then(() => mine);
    this.locks.set(name, chain);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(name) === chain) this.locks.delete(name);
    }
  }

  pin(files: string[]): () => void {
    for (const f of files) this.pins.set(f, (this.pins.get(f) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const f of files) {
        const n = (this.pins.get(f) ?? 1) - 1;
        if (n > 0) this.pins.set(f, n);
        else {
          this.pins.delete(f);
          if (this.pendingUnlink.delete(f)) void fsp.rm(this.dataPath(f), { force: true });
        }
      }
    };
  }

  private async unlinkData(files: string[]): Promise<void> {
    for (const f of files) {
      if (this.pins.has(f)) this.pendingUnlink.add(f);
      else await fsp.rm(this.dataPath(f), { force: true });
    }
  }

  /**
   * Streams `body` into a temp file, computing size, MD5 and CRC-64 on the way (on the libuv pool, batched
   * with the other uploads: hash-pool.ts). Rejects (and removes the temp file) if the stream errors or ends
   * early, or once more than `maxSize` bytes arrive.
   * `releaseChunks`: the body's chunks belong to this call alone (an HTTP request body), so each one's memory
   * is freed as soon as it is both on disk and hashed (BodySink), instead of whenever V8 next collects: over
   * multi-GB uploads that garbage, not live data, is what sets the server's RSS.
   */
  async receive(body: Readable, maxSize: number, expectedSize?: number, options: { releaseChunks?: boolean } = {}): Promise<ReceivedBody> {
    const tmpPath = this.p('tmp', `${randomHex(12)}.part`);
    const pool = this.hashPool();
    const hash = pool.hash();
    let fh: fsp.FileHandle | undefined;
    let sink: BodySink | undefined;
    try {
      fh = await fsp.open(tmpPath, 'w');
      const writeback = this.fsync ? pool.writeback : undefined;
      sink = new BodySink(fh, hash, pool, { maxSize, highWaterMark: this.bufferSize, release: options.releaseChunks ?? false, writeback });
      await pipeline(body, sink);
      if (expectedSize !== undefined && sink.size !== expectedSize) {
        throw new OssError(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
      }
      await sink.settled();
      if (this.fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      this.crashAt('receive:written');
      const digest = await hash.digest();
      return { tmpPath, size: sink.size, md5: digest.md5, crc64: digest.crc64 };
    } catch (err) {
      hash.abandon();
      await sink?.settled();
      await fh?.close().catch(() => {});
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
  }

  /** The body hash batcher, created on first use (it loads the native addon). */
  hashPool(): HashPool {
    return (this.hashes ??= new HashPool());
  }

  /** Moves a received temp file into `data/` under a fresh name. */
  async adopt(tmpPath: string): Promise<string> {
    const file = `${randomHex(16)}.bin`;
    await fsp.rename(tmpPath, this.dataPath(file));
    this.crashAt('adopt:renamed');
    return file;
  }

  async discard(tmpPath: string): Promise<void> {
    await fsp.rm(tmpPath, { force: true });
  }

  // ---------------------------------------------------------------- buckets

  listBuckets(): { name: string; created: number }[] {
    return [...this.buckets.values()].map((b) => ({ name: b.name, created: b.created })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  bucketCreated(name: string): number | undefined {
    return this.buckets.get(name)?.created;
  }

  private bucket(name: string): BucketState {
    const b = this.buckets.get(name);
    if (!b) throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: name });
    return b;
  }

  /** Built in tmp/ and renamed into buckets/ whole: a crash leaves the bucket either complete or absent. */
  async createBucket(name: string): Promise<void> {
    await this.withLock(`bucket:${name}`, async () => {
      if (this.buckets.has(name)) {
        throw new OssError(409, 'BucketAlreadyExists', 'The requested bucket name is not available.', { BucketName: name });
      }
      const staged = this.p('tmp', `${randomHex(8)}.bucket`);
      await fsp.mkdir(path.join(staged, 'objects'), { recursive: true });
      const created = Date.now();
      await this.writeJson(path.join(staged, 'bucket.json'), { name, created });
      this.crashAt('bucket:staged');
      await fsp.rename(staged, this.p('buckets', name));
      this.buckets.set(name, { name, created, objects: new Map(), older: new Map(), uploads: new Map() });
    });
  }

  async deleteBucket(name: string): Promise<void> {
    await this.withLock(`bucket:${name}`, async () => {
      const b = this.bucket(name);
      if (b.objects.size > 0 || b.older.size > 0 || b.uploads.size > 0) {
        throw new OssError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.', { BucketName: name });
      }
      this.buckets.delete(name);
      await this.detach(this.p('buckets', name), 'bucket:detached');
    });
  }

  // ---------------------------------------------------------------- objects

  getObject(bucket: string, key: string): ObjectMeta | undefined {
    return this.bucket(bucket).objects.get(key);
  }

  /** Sorted keys (code-unit order, as OSS lists in UTF-8 byte order for BMP keys). */
  listObjects(bucket: string): ObjectMeta[] {
    return [...this.bucket(bucket).objects.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  /**
   * Commits `meta` as the new version of its key and returns it as stored (with its version id on a versioned
   * bucket). Run inside withLock(bucket/key). Versions no longer kept are unlinked (deferred while pinned by readers).
   */
  async commitObject(bucket: string, meta: ObjectMeta): Promise<ObjectMeta> {
    const b = this.bucket(bucket);
    const t = putVersion(this.versionsOf(b, meta.key), meta, b.versioning);
    await this.apply(b, meta.key, t);
    return t.written;
  }

  /** DELETE without versionId: removes the object, or on a versioned bucket adds a delete marker (returned). */
  async deleteObject(bucket: string, key: string): Promise<{ deleted: boolean; marker?: ObjectMeta }> {
    const b = this.bucket(bucket);
    const v = this.versionsOf(b, key);
    if (!b.versioning && !v.current) return { deleted: false };
    const t = deleteLatest(v, key, b.versioning);
    await this.apply(b, key, t);
    return { deleted: true, ...(t.marker ? { marker: t.marker } : {}) };
  }

  /** DELETE with versionId: exactly that version (undefined: there is none). */
  async deleteVersion(bucket: string, key: string, versionId: string): Promise<ObjectMeta | undefined> {
    const b = this.bucket(bucket);
    const t = removeVersion(this.versionsOf(b, key), versionId);
    if (t.removed) await this.apply(b, key, t);
    return t.removed;
  }

  /** One version of a key by id (delete markers included). */
  getVersion(bucket: string, key: string, versionId: string): ObjectMeta | undefined {
    const b = this.bucket(bucket);
    return findVersion(this.versionsOf(b, key), versionId);
  }

  /** The latest version when it is a delete marker (a GET then answers 404 naming it). */
  latestDeleteMarker(bucket: string, key: string): ObjectMeta | undefined {
    const latest = latestOf(this.versionsOf(this.bucket(bucket), key));
    return latest?.deleteMarker ? latest : undefined;
  }

  /** Every version of every key; `order` 0 is a key's newest. */
  listVersions(bucket: string): Array<{ meta: ObjectMeta; latest: boolean; order: number }> {
    const b = this.bucket(bucket);
    const keys = new Set([...b.objects.keys(), ...b.older.keys()]);
    const out: Array<{ meta: ObjectMeta; latest: boolean; order: number }> = [];
    for (const key of keys) {
      const v = this.versionsOf(b, key);
      const all = [...(v.current ? [v.current] : []), ...v.older];
      all.forEach((meta, order) => out.push({ meta, latest: order === 0, order }));
    }
    return out;
  }

  versioning(bucket: string): VersioningStatus | undefined {
    return this.bucket(bucket).versioning;
  }

  /** PutBucketVersioning: Enabled or Suspended (a bucket never goes back to unversioned). */
  async setVersioning(bucket: string, status: VersioningStatus): Promise<void> {
    await this.withLock(`bucket:${bucket}`, async () => {
      const b = this.bucket(bucket);
      await this.writeJson(this.p('buckets', bucket, 'bucket.json'), { name: b.name, created: b.created, versioning: status } satisfies BucketInfo);
      b.versioning = status;
    });
  }

  private versionsOf(b: BucketState, key: string): KeyVersions {
    return { current: b.objects.get(key), older: b.older.get(key) ?? [] };
  }

  /**
   * Persists a transition: new noncurrent versions first, then the current object (the commit point: one
   * rename or unlink), then removed noncurrent files; open() resolves what a crash between them leaves.
   */
  private async apply(b: BucketState, key: string, t: Transition): Promise<void> {
    const before = this.versionsOf(b, key);
    const versionsDir = this.p('buckets', b.name, 'versions');
    const versionFile = (m: ObjectMeta) => path.join(versionsDir, `${hashName(key)}.${versionIdOf(m)}.json`);
    const added = t.next.older.filter((m) => !before.older.includes(m));
    const removed = before.older.filter((m) => !t.next.older.includes(m));
    if (added.length > 0) await fsp.mkdir(versionsDir, { recursive: true });
    for (const m of added) await this.writeJson(versionFile(m), m);
    const objectFile = this.p('buckets', b.name, 'objects', `${hashName(key)}.json`);
    if (t.next.current !== before.current) {
      if (t.next.current) {
        await this.writeJson(objectFile, t.next.current);
        this.crashAt('object:meta-written');
      } else {
        await fsp.rm(objectFile, { force: true });
        this.crashAt('object:meta-removed');
      }
    }
    for (const m of removed) await fsp.rm(versionFile(m), { force: true });
    if (t.next.current) b.objects.set(key, t.next.current);
    else b.objects.delete(key);
    if (t.next.older.length > 0) b.older.set(key, t.next.older);
    else b.older.delete(key);
    const keep = new Set([...(t.next.current ? [t.next.current] : []), ...t.next.older].flatMap((m) => m.segments.map((s) => s.file)));
    await this.unlinkData(t.discarded.flatMap((m) => m.segments.map((s) => s.file)).filter((f) => !keep.has(f)));
  }

  /** Hard-links (or copies) an object's segments to new files for CopyObject. */
  async cloneSegments(segments: Segment[]): Promise<Segment[]> {
    const out: Segment[] = [];
    for (const s of segments) {
      const file = `${randomHex(16)}.bin`;
      try {
        await fsp.link(this.dataPath(s.file), this.dataPath(file));
      } catch {
        await fsp.copyFile(this.dataPath(s.file), this.dataPath(file));
      }
      out.push({ file, size: s.size });
    }
    return out;
  }

  /**
   * A stream of bytes [start, end) of an object, walking its segments. The segments are pinned for the
   * stream's lifetime so a concurrent overwrite or delete cannot pull a file from under it.
   */
  readRange(meta: ObjectMeta, start: number, end: number): Readable {
    const unpin = this.pin(meta.segments.map((s) => s.file));
    const segments = meta.segments;
    const bufferSize = this.bufferSize;
    const store = this;
    async function* gen(): AsyncGenerator<Buffer> {
      let offset = 0;
      for (const s of segments) {
        const segStart = offset;
        const segEnd = offset + s.size;
        offset = segEnd;
        if (segEnd <= start || segStart >= end || s.size === 0) continue;
        const from = Math.max(start, segStart) - segStart;
        const to = Math.min(end, segEnd) - segStart; // exclusive
        const rs = createReadStream(store.dataPath(s.file), { start: from, end: to - 1, highWaterMark: bufferSize });
        for await (const chunk of rs) yield chunk as Buffer;
      }
    }
    const stream = Readable.from(gen(), { objectMode: false, highWaterMark: bufferSize });
    stream.once('close', unpin);
    return stream;
  }

  // ---------------------------------------------------------------- multipart

  async createUpload(meta: UploadMeta): Promise<void> {
    const b = this.bucket(meta.bucket);
    const dir = this.p('uploads', meta.uploadId);
    await fsp.mkdir(dir, { recursive: true });
    await this.writeJson(path.join(dir, 'upload.json'), meta);
    b.uploads.set(meta.uploadId, { meta, parts: new Map() });
  }

  getUpload(bucket: string, key: string, uploadId: string): { meta: UploadMeta; parts: Map<number, PartMeta> } | undefined {
    const u = this.bucket(bucket).uploads.get(uploadId);
    if (!u || u.meta.key !== key) return undefined;
    return u;
  }

  listUploads(bucket: string): UploadMeta[] {
    return [...this.bucket(bucket).uploads.values()]
      .map((u) => u.meta)
      // Key, then upload id: the order the key-marker/upload-id-marker paging in ListMultipartUploads relies on.
      .sort((a, b) => compareKeys(a.key, b.key) || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0));
  }

  /** Records a part (replacing one with the same number). Run inside withLock(uploadId). */
  async commitPart(bucket: string, uploadId: string, part: PartMeta): Promise<void> {
    const u = this.bucket(bucket).uploads.get(uploadId);
    if (!u) {
      await this.unlinkData([part.file]);
      throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    }
    await this.writeJson(this.p('uploads', uploadId, `${part.partNumber}.json`), part);
    this.crashAt('part:meta-written');
    const old = u.parts.get(part.partNumber);
    u.parts.set(part.partNumber, part);
    if (old && old.file !== part.file) await this.unlinkData([old.file]);
  }

  /** Removes an upload; `keepFiles` are data files now owned by a completed object. */
  async dropUpload(bucket: string, uploadId: string, keepFiles: Set<string> = new Set()): Promise<void> {
    const b = this.bucket(bucket);
    const u = b.uploads.get(uploadId);
    if (!u) return;
    b.uploads.delete(uploadId);
    await this.detach(this.p('uploads', uploadId), 'upload:detached');
    await this.unlinkData([...u.parts.values()].map((p) => p.file).filter((f) => !keepFiles.has(f)));
  }

  /** Whole-object CRC from part CRCs by combine, never by re-reading. */
  static combineCrcs(parts: { crc64: string; size: number }[]): bigint {
    let crc = 0n;
    for (const p of parts) crc = crc64Combine(crc, crc64FromWire(p.crc64), p.size);
    return crc;
  }
}

/**
 * The file end of receive(): counts and caps the size, queues every chunk for hashing and writes it (writev of
 * whatever the stream buffered) at its offset. Waits while the hash queue is over its cap, which stops reading
 * the socket. With `release`, a chunk that exclusively owns its ArrayBuffer is detached (its memory freed at
 * once) when both its write and its hash have completed, never before: the pool thread and the kernel read it.
 */
class BodySink extends Writable {
  size = 0;
  private position = 0;
  private readonly fh: fsp.FileHandle;
  private readonly hash: BodyHash;
  private readonly pool: HashPool;
  private readonly options: BodySinkOptions;
  /** Bytes handed to writeback so far, and the writeback in flight (at most one; it uses the raw fd). */
  private wbStarted = 0;
  private wb: Promise<void> | undefined;

  constructor(fh: fsp.FileHandle, hash: BodyHash, pool: HashPool, options: BodySinkOptions) {
    super({ highWaterMark: options.highWaterMark });
    this.fh = fh;
    this.hash = hash;
    this.pool = pool;
    this.options = options;
  }

  /** Set when the stream is destroyed: a write still finishing then starts no writeback on a closing fd. */
  private stopped = false;

  /** Resolves once no writeback uses the fd any more (call before closing it). */
  async settled(): Promise<void> {
    while (this.wb) await this.wb;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.stopped = true;
    cb(err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeChunks([chunk]).then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.writeChunks(chunks.map((c) => c.chunk)).then(() => cb(), cb);
  }

  private async writeChunks(chunks: Buffer[]): Promise<void> {
    let n = 0;
    for (const c of chunks) n += c.length;
    const { maxSize } = this.options;
    if (this.size + n > maxSize) {
      throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', { MaxSizeAllowed: String(maxSize) });
    }
    this.size += n;
    // Both the hash and the write must be done with a chunk before it may be released: count them down.
    const done = this.options.release ? chunks.map((c) => (exclusive(c) ? 2 : 0)) : undefined;
    const finish = (i: number) => {
      if (done && done[i]! > 0 && --done[i]! === 0) releaseChunk(chunks[i]!);
    };
    chunks.forEach((c, i) => this.hash.update(c, () => finish(i)));
    const at = this.position;
    this.position += n;
    const { bytesWritten } = await this.fh.writev(chunks, at);
    if (bytesWritten !== n) throw new ShortWriteError(bytesWritten, n);
    chunks.forEach((_c, i) => finish(i));
    this.startWriteback();
    await this.pool.belowCap();
  }

  /** Every WRITEBACK_BYTES written, hands the new range to the disk (see HashPool.writeback). */
  private startWriteback(): void {
    const { writeback } = this.options;
    if (!writeback || this.stopped || this.wb || this.position - this.wbStarted < WRITEBACK_BYTES) return;
    const offset = this.wbStarted;
    this.wbStarted = this.position;
    // A failed writeback is not an upload failure: the fsync before the rename reports real I/O errors.
    this.wb = writeback(this.fh.fd, offset, this.position - offset)
      .catch(() => {})
      .finally(() => (this.wb = undefined));
  }
}

interface BodySinkOptions {
  maxSize: number;
  highWaterMark: number;
  /** Free chunks that own their ArrayBuffer once written and hashed. */
  release: boolean;
  /** Early writeback (when bodies are fsynced): sync_file_range WRITE of a written range. */
  writeback: ((fd: number, offset: number, length: number) => Promise<void>) | undefined;
}

/** Writeback granularity: small enough to keep the disk busy during the transfer, large enough to be few calls. */
const WRITEBACK_BYTES = 8 * 1024 * 1024;

/** A chunk that is the whole of its own (non-shared, fixed-size) ArrayBuffer: nothing else can view its bytes. */
function exclusive(c: Uint8Array): boolean {
  const ab = c.buffer;
  return ab instanceof ArrayBuffer && !ab.resizable && c.byteOffset === 0 && c.byteLength === ab.byteLength && c.byteLength > 0;
}

/**
 * Frees `chunk`'s memory now (detaches its ArrayBuffer) if it is the sole view of its own buffer; otherwise
 * leaves it to the GC. Only for chunks nobody reads any more: this process's, handed over by a stream, and
 * done with by every reader (the kernel included).
 */
export function releaseChunk(chunk: Uint8Array): void {
  if (exclusive(chunk)) (chunk.buffer as ArrayBuffer).transfer(0);
}

/** writev wrote fewer bytes than given (a regular file only does that when the disk is full). */
export class ShortWriteError extends OssferryError {
  constructor(written: number, wanted: number) {
    super('ShortWrite', `wrote ${written} of ${wanted} bytes to a temp file (disk full?)`);
  }
}

export function compareKeys(a: string, b: string): number {
  // OSS orders keys by UTF-8 bytes; Buffer.compare gives exactly that, including astral characters.
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export { crc64ToWire, crc64FromWire };
