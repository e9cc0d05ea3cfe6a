/**
 * Object versioning for the local OSS, as OSS does it for a bucket whose versioning is Enabled or Suspended:
 * - Enabled: every write (Put, Complete, Copy, Append's first write) is a new version with its own id; a DELETE
 *   without versionId adds a delete marker (the object then reads as absent); a DELETE with versionId removes
 *   exactly that version (the next older one becomes current if it is not a delete marker).
 * - Suspended: new writes and delete markers take the version id "null", replacing an earlier "null" version;
 *   versions written while Enabled stay.
 * - never enabled: one version per key, no version ids (the store's plain behaviour).
 * Objects written before versioning was enabled carry no id and answer as version "null".
 * The transitions are pure (`putVersion`, `deleteLatest`, `removeVersion`); store.ts persists their result, and
 * the handlers below serve PutBucketVersioning, GetBucketVersioning and ListObjectVersions (`GET /?versions`).
 */
import { randomBytes } from 'node:crypto';
import { getParam } from './addressing.ts';
import { invalidArgument, malformedXml } from './errors.ts';
import { clampInt, OWNER, quote, readSmallBody, sendEmpty, sendText, sendXml, type Ctx, type ServerContext } from './http-io.ts';
import type { ObjectMeta } from './store.ts';
import { compareKeys } from './store.ts';
import { isoDate, parseXmlBody } from './xml.ts';

export type VersioningStatus = 'Enabled' | 'Suspended';

/** A key's versions: the current object (absent when the latest version is a delete marker or there is none) and the older ones, newest first. */
export interface KeyVersions {
  current: ObjectMeta | undefined;
  /** Noncurrent versions and delete markers, newest first. */
  older: ObjectMeta[];
}

export const NULL_VERSION = 'null';
/** The id a version answers to (written before versioning: "null"). */
export const versionIdOf = (m: ObjectMeta): string => m.versionId ?? NULL_VERSION;

let counter = 0;
/** Opaque to clients, but sortable by creation (hex time + counter), as OSS lists newer versions first. */
export function newVersionId(now = Date.now()): string {
  counter = (counter + 1) % 0x100000000;
  return `CAEQ${now.toString(16).padStart(12, '0')}${counter.toString(16).padStart(8, '0')}${randomBytes(6).toString('hex')}`;
}

/** The latest version, delete marker included. */
export function latestOf(v: KeyVersions): ObjectMeta | undefined {
  return v.current ?? (v.older[0]?.deleteMarker ? v.older[0] : undefined);
}

export interface Transition {
  next: KeyVersions;
  /** Versions gone for good: their data may be unlinked. */
  discarded: ObjectMeta[];
}

/** `meta` becomes the current version. */
export function putVersion(v: KeyVersions, meta: ObjectMeta, status: VersioningStatus | undefined, now = Date.now()): Transition & { written: ObjectMeta } {
  if (status === undefined) {
    return { next: { current: meta, older: v.older }, discarded: v.current ? [v.current] : [], written: meta };
  }
  const written: ObjectMeta = { ...meta, versionId: status === 'Enabled' ? newVersionId(now) : NULL_VERSION };
  return { ...pushDown(v, written, status), written };
}

/** DELETE without versionId: a delete marker on a versioned bucket, else the object is gone. */
export function deleteLatest(v: KeyVersions, key: string, status: VersioningStatus | undefined, now = Date.now()): Transition & { marker: ObjectMeta | undefined } {
  if (status === undefined) return { next: { current: undefined, older: v.older }, discarded: v.current ? [v.current] : [], marker: undefined };
  const marker: ObjectMeta = {
    key, size: 0, etag: '', crc64: '0', type: 'Normal', lastModified: now, contentType: '', userMeta: {}, headers: {}, segments: [],
    versionId: status === 'Enabled' ? newVersionId(now) : NULL_VERSION, deleteMarker: true,
  };
  const t = pushDown(v, marker, status);
  return { next: { current: undefined, older: t.next.older }, discarded: t.discarded, marker };
}

/** `newest` on top; the current version becomes noncurrent; a Suspended write replaces the "null" version. */
function pushDown(v: KeyVersions, newest: ObjectMeta, status: VersioningStatus): Transition {
  const all = [...(v.current ? [v.current] : []), ...v.older];
  const discarded = status === 'Suspended' ? all.filter((m) => versionIdOf(m) === NULL_VERSION) : [];
  const kept = all.filter((m) => !discarded.includes(m));
  return newest.deleteMarker ? { next: { current: undefined, older: [newest, ...kept] }, discarded } : { next: { current: newest, older: kept }, discarded };
}

/**
 * DELETE with versionId: that version only. When it was the latest (the current object or the latest delete
 * marker), the next older one becomes current unless it is a delete marker.
 */
export function removeVersion(v: KeyVersions, versionId: string): Transition & { removed: ObjectMeta | undefined } {
  if (v.current && versionIdOf(v.current) === versionId) {
    const [first, ...rest] = v.older;
    const next = first && !first.deleteMarker ? { current: first, older: rest } : { current: undefined, older: v.older };
    return { next, discarded: [v.current], removed: v.current };
  }
  const removed = v.older.find((m) => versionIdOf(m) === versionId);
  if (!removed) return { next: v, discarded: [], removed: undefined };
  const older = v.older.filter((m) => m !== removed);
  // Removing the latest delete marker brings the version under it back, unless that is a marker too.
  if (!v.current && removed === v.older[0] && older[0] && !older[0].deleteMarker) {
    return { next: { current: older[0], older: older.slice(1) }, discarded: [removed], removed };
  }
  return { next: { current: v.current, older }, discarded: [removed], removed };
}

export function findVersion(v: KeyVersions, versionId: string): ObjectMeta | undefined {
  return [...(v.current ? [v.current] : []), ...v.older].find((m) => versionIdOf(m) === versionId);
}

/** Headers naming the version an answer is about (none on a bucket that never had versioning). */
export function versionHeaders(m: ObjectMeta | undefined): Record<string, string> {
  if (!m || m.versionId === undefined) return {};
  return { 'x-oss-version-id': m.versionId, ...(m.deleteMarker ? { 'x-oss-delete-marker': 'true' } : {}) };
}

/** `?versionId=` of a request, checked (an empty id is refused as OSS does). */
export function requestedVersion(c: Ctx): string | undefined {
  const v = getParam(c.addr.query, 'versionId');
  if (v === undefined) return undefined;
  if (v === '') throw invalidArgument('versionId can not be empty.', 'versionId', v);
  return v;
}

// ------------------------------------------------------------------------------------------------ handlers

export async function putBucketVersioning(sc: ServerContext, c: Ctx, bucket: string): Promise<void> {
  const body = await readSmallBody(c);
  const doc = parseXmlBody(body.toString('utf8'), 'VersioningConfiguration');
  const status = doc.children.find((e) => e.name === 'Status')?.text;
  if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
  await sc.store.setVersioning(bucket, status);
  sendEmpty(c, 200);
}

/** A bucket that never had versioning answers an empty configuration (no Status), as OSS does. */
export function getBucketVersioning(sc: ServerContext, c: Ctx, bucket: string): void {
  const status = sc.store.versioning(bucket);
  sendText(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n${status ? `<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>` : '<VersioningConfiguration/>'}`);
}

/** ListObjectVersions: keys in order, each key's versions newest first; prefix, key/version-id markers, max-keys. */
export function listObjectVersions(sc: ServerContext, c: Ctx, bucket: string): void {
  const q = (n: string) => getParam(c.addr.query, n);
  const prefix = q('prefix') ?? '';
  const keyMarker = q('key-marker') ?? '';
  const idMarker = q('version-id-marker') ?? '';
  const max = clampInt(q('max-keys'), 100, 1, 1000, 'max-keys');
  const entries = sc.store
    .listVersions(bucket)
    .filter((e) => e.meta.key.startsWith(prefix))
    .sort((a, b) => compareKeys(a.meta.key, b.meta.key) || a.order - b.order);
  let start = 0;
  if (keyMarker !== '') {
    start = entries.findIndex((e) => compareKeys(e.meta.key, keyMarker) > 0 || (e.meta.key === keyMarker && idMarker !== '' && e.order > (entries.find((x) => x.meta.key === keyMarker && versionIdOf(x.meta) === idMarker)?.order ?? Infinity)));
    if (start === -1) start = entries.length;
  }
  const page = entries.slice(start, start + max);
  const truncated = start + max < entries.length;
  const last = page[page.length - 1];
  sendXml(c, 200, 'ListVersionsResult', {
    Name: bucket,
    Prefix: prefix,
    KeyMarker: keyMarker,
    VersionIdMarker: idMarker,
    MaxKeys: String(max),
    Delimiter: '',
    IsTruncated: truncated ? 'true' : 'false',
    NextKeyMarker: truncated && last ? last.meta.key : undefined,
    NextVersionIdMarker: truncated && last ? versionIdOf(last.meta) : undefined,
    Version: page
      .filter((e) => !e.meta.deleteMarker)
      .map((e) => ({
        Key: e.meta.key, VersionId: versionIdOf(e.meta), IsLatest: e.latest ? 'true' : 'false', LastModified: isoDate(e.meta.lastModified),
        ETag: quote(e.meta.etag), Type: e.meta.type, Size: String(e.meta.size), StorageClass: 'Standard', Owner: OWNER,
      })),
    DeleteMarker: page
      .filter((e) => e.meta.deleteMarker)
      .map((e) => ({ Key: e.meta.key, VersionId: versionIdOf(e.meta), IsLatest: e.latest ? 'true' : 'false', LastModified: isoDate(e.meta.lastModified), Owner: OWNER })),
  });
}
