/**
 * OSS trigger events → archive job requests. Pure (node:crypto only, for the idempotency hash).
 *
 * Payload: the body FC POSTs to /invoke for an OSS trigger, `{"events":[{eventName, eventTime, region,
 * oss:{bucket:{name}, object:{key, size, eTag}}}, …]}` (FC docs: OSS trigger event format). The
 * eventName carries no "oss:" prefix in the payload (the trigger config does); both spellings are accepted.
 *
 * Only complete-object creations start an archive: PutObject, PostObject, CopyObject and
 * CompleteMultipartUpload (`ObjectCreated:*` also fires for InitiateMultipartUpload, every UploadPart etc.).
 * Everything else comes back as an `ignored` outcome with a reason, for the coordinator to log.
 *
 * Duplicates: delivery is retried after failures (asynchronous invocation: at-least-once in effect), so the
 * idempotency key is a hash of bucket + key + ETag: the same object version delivered twice maps to the
 * same key (the coordinator runs one archive per key), a re-upload (new ETag) to a new one.
 *
 * Keys: whether OSS URL-encodes `object.key` is undocumented (the documented examples
 * show plain keys), so `keyEncoding` defaults to 'plain' and 'url' decodes percent-escapes (and '+' as a space,
 * S3-style). Confirm against a live trigger; a wrong choice shows up as NoSuchKey on the source HEAD.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidInputError } from './errors.ts';
import { issueField } from './issue-path.ts';
import { archiveDestinationKey, matchArchiveRule, ruleGzipLevel, type ArchiveRule, type GzipLevel } from './archive-rules.ts';

export const ARCHIVE_EVENT_NAMES = Object.freeze([
  'ObjectCreated:PutObject',
  'ObjectCreated:PostObject',
  'ObjectCreated:CopyObject',
  'ObjectCreated:CompleteMultipartUpload',
] as const);

export interface ArchiveJobRequest {
  /** oss://bucket/key, the key as stored (not percent-encoded). */
  source: string;
  sourceEtag: string;
  sourceSize: number;
  region: string;
  destination: string;
  gzipLevel: GzipLevel;
  deleteSourceAfterVerify: boolean;
  /** Same bucket + key + ETag → same key, so a redelivered event starts no second archive. */
  idempotencyKey: string;
  /** The archive rule that matched (for logs and status). */
  rule: string;
  eventName: string;
  eventTime: string;
}

export type OssEventOutcome =
  | { kind: 'archive'; index: number; request: ArchiveJobRequest }
  | { kind: 'ignored'; index: number; reason: string; eventName?: string; bucket?: string; key?: string; error?: InvalidInputError };

export interface ParseOssEventOptions {
  keyEncoding?: 'plain' | 'url';
  /** Field name used in error messages. */
  field?: string;
}

const recordSchema = z.object({
  eventName: z.string({ error: 'must be a string such as "ObjectCreated:PutObject"' }).min(1),
  eventTime: z.string({ error: 'must be an ISO-8601 time string' }).refine((s) => !Number.isNaN(Date.parse(s)), { error: 'must be an ISO-8601 time' }),
  region: z.string({ error: 'must be a region id such as "cn-shanghai"' }).regex(/^[a-z0-9-]+$/, { error: 'must be a region id such as "cn-shanghai"' }),
  oss: z.object(
    {
      bucket: z.object({ name: z.string({ error: 'must be the bucket name' }).min(3) }, { error: 'must be an object with the bucket name' }),
      object: z.object(
        {
          key: z.string({ error: 'must be the object key' }).min(1, { error: 'must not be empty' }),
          size: z.number({ error: 'must be the object size in bytes' }).int().nonnegative(),
          eTag: z.string({ error: 'must be the object ETag' }).min(1, { error: 'must not be empty' }),
        },
        { error: 'must be an object with key, size and eTag' },
      ),
    },
    { error: 'must be an object with bucket and object' },
  ),
});

const payloadSchema = z.object({ events: z.array(z.unknown(), { error: 'must be an array of event records' }) }, { error: 'must be an object with an "events" array' });

/** "…-<hex>" : a stable, short identifier for (bucket, key, ETag). */
export function archiveIdempotencyKey(bucket: string, key: string, etag: string): string {
  const h = createHash('sha256').update(JSON.stringify([bucket, key, normalizeEtag(etag)])).digest('hex');
  return `archive-${h.slice(0, 40)}`;
}

/** ETags arrive quoted or bare and in either case depending on the path; the identity is the hex. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '').toUpperCase();
}

function decodeKey(raw: string, encoding: 'plain' | 'url', field: string): string {
  if (encoding === 'plain') return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch (cause) {
    throw new InvalidInputError(field, `is not valid percent-encoding: ${JSON.stringify(raw)}`, "deliver URL-encoded keys, or parse with keyEncoding 'plain'", { cause });
  }
}

function toJson(body: unknown, field: string): unknown {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new InvalidInputError(field, 'is not JSON', 'invoke with the OSS trigger event body {"events":[…]}', { cause });
    }
  }
  return body;
}

/**
 * Parses an OSS trigger payload (JSON text, bytes or an already-parsed object) and maps every record
 * through the archive rules. Throws InvalidInputError only when the payload as a whole is unusable; a bad
 * record becomes an `ignored` outcome carrying its error, so one malformed record does not block the others.
 */
export function parseOssEvent(body: unknown, rules: readonly ArchiveRule[], opts: ParseOssEventOptions = {}): OssEventOutcome[] {
  const field = opts.field ?? 'event';
  const encoding = opts.keyEncoding ?? 'plain';
  const top = payloadSchema.safeParse(toJson(body, field));
  if (!top.success) {
    const issue = top.error.issues[0]!;
    throw new InvalidInputError(issueField(field, issue.path), issue.message, 'invoke with the OSS trigger event body {"events":[{eventName, oss:{bucket:{name}, object:{key, size, eTag}}}, …]}');
  }
  const seen = new Set<string>();
  return top.data.events.map((raw, index): OssEventOutcome => {
    const at = `${field}.events[${index}]`;
    const rec = recordSchema.safeParse(raw);
    if (!rec.success) {
      const issue = rec.error.issues[0]!;
      const error = new InvalidInputError(issueField(at, issue.path), issue.message, 'this record is not an OSS trigger event (eventName, oss.bucket.name, oss.object.key/size/eTag); it was skipped');
      return { kind: 'ignored', index, reason: `malformed record: ${error.message}`, error };
    }
    const r = rec.data;
    const eventName = r.eventName.replace(/^oss:/, '');
    const bucket = r.oss.bucket.name;
    let key: string;
    try {
      key = decodeKey(r.oss.object.key, encoding, `${at}.oss.object.key`);
    } catch (err) {
      return { kind: 'ignored', index, reason: `malformed record: ${(err as Error).message}`, eventName, bucket, error: err as InvalidInputError };
    }
    if (!(ARCHIVE_EVENT_NAMES as readonly string[]).includes(eventName)) {
      return { kind: 'ignored', index, reason: `event ${eventName} does not create a complete object (archived: ${ARCHIVE_EVENT_NAMES.join(', ')})`, eventName, bucket, key };
    }
    if (key.endsWith('/')) {
      return { kind: 'ignored', index, reason: 'directory marker (key ends with "/")', eventName, bucket, key };
    }
    const rule = matchArchiveRule(rules, bucket, key);
    if (!rule) return { kind: 'ignored', index, reason: `no archive rule matches oss://${bucket}/${key}`, eventName, bucket, key };
    const idempotencyKey = archiveIdempotencyKey(bucket, key, r.oss.object.eTag);
    if (seen.has(idempotencyKey)) {
      return { kind: 'ignored', index, reason: `duplicate of an earlier record in this delivery (${idempotencyKey})`, eventName, bucket, key };
    }
    seen.add(idempotencyKey);
    return {
      kind: 'archive',
      index,
      request: {
        source: `oss://${bucket}/${key}`,
        sourceEtag: normalizeEtag(r.oss.object.eTag),
        sourceSize: r.oss.object.size,
        region: r.region,
        destination: `oss://${rule.destinationBucket}/${archiveDestinationKey(rule, key)}`,
        gzipLevel: ruleGzipLevel(rule),
        deleteSourceAfterVerify: rule.deleteSourceAfterVerify,
        idempotencyKey,
        rule: rule.name,
        eventName,
        eventTime: r.eventTime,
      },
    };
  });
}

/** What an OSS trigger reports about one object write (the fields a trigger record carries). */
export interface ObjectEventFacts {
  eventName: string;
  bucket: string;
  /** As stored (plain, not percent-encoded). */
  key: string;
  size: number;
  eTag: string;
  region: string;
  accountId: string;
  eventTime: Date;
}

/** The creation event OSS raises for an object of this `x-oss-object-type` (Normal: a PutObject). */
export function creationEventName(objectType: string | undefined): string {
  if (objectType === 'Multipart') return 'ObjectCreated:CompleteMultipartUpload';
  if (objectType === 'Appendable') return 'ObjectCreated:AppendObject';
  return 'ObjectCreated:PutObject';
}

/**
 * The body the OSS trigger POSTs to the function for one object write: one record, the documented shape
 * (eventName without "oss:", ETag as uppercase hex without quotes, deltaSize = size for a new object).
 */
export function ossEventBody(f: ObjectEventFacts): { events: Array<Record<string, unknown>> } {
  return {
    events: [
      {
        eventName: f.eventName.replace(/^oss:/, ''),
        eventSource: 'acs:oss',
        eventTime: f.eventTime.toISOString(),
        eventVersion: '1.0',
        oss: {
          bucket: { arn: `acs:oss:${f.region}:${f.accountId}:${f.bucket}`, name: f.bucket, ownerIdentity: f.accountId, virtualBucket: '' },
          object: { deltaSize: f.size, eTag: normalizeEtag(f.eTag), key: f.key, size: f.size },
          ossSchemaVersion: '1.0',
        },
        region: f.region,
        userIdentity: { principalId: f.accountId },
      },
    ],
  };
}
