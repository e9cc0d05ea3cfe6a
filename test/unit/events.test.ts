import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseArchiveRules } from '../../shared/archive-rules.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { archiveIdempotencyKey, creationEventName, ossEventBody, parseOssEvent, type OssEventOutcome } from '../../shared/events.ts';

const rules = parseArchiveRules([
  { name: 'logs', sourceBucket: 'ingest-bucket', sourcePrefix: 'incoming/', destinationBucket: 'ingest-bucket', destinationPrefix: 'archive/' },
  { name: 'dumps', sourceBucket: 'dump-bucket', sourceSuffix: '.sql', destinationBucket: 'cold-bucket', deleteSourceAfterVerify: true, gzipLevel: 3 },
]);

/** A record shaped exactly like an OSS trigger event record as FC delivers it. */
function record(over: { eventName?: string; bucket?: string; key?: string; size?: number; eTag?: string } = {}) {
  const bucket = over.bucket ?? 'ingest-bucket';
  return {
    eventName: over.eventName ?? 'ObjectCreated:PutObject',
    eventSource: 'acs:oss',
    eventTime: '2017-04-21T12:46:37.000Z',
    eventVersion: '1.0',
    oss: {
      bucket: { arn: `acs:oss:cn-shanghai:123456789:${bucket}`, name: bucket, ownerIdentity: '123456789', virtualBucket: '' },
      object: { deltaSize: over.size ?? 122539, eTag: over.eTag ?? '688A7BF4F233DC9C88A80BF985AB7329', key: over.key ?? 'incoming/a.log', size: over.size ?? 122539 },
      ossSchemaVersion: '1.0',
      ruleId: '9adac8e253828f4f7c0466d941fa3db81161****',
    },
    region: 'cn-shanghai',
    requestParameters: { sourceIPAddress: '140.205.***.***' },
    responseElements: { requestId: '58F9FF2D3DF792092E12044C' },
    userIdentity: { principalId: '123456789' },
  };
}

const archives = (out: OssEventOutcome[]) => out.flatMap((o) => (o.kind === 'archive' ? [o.request] : []));

describe('parseOssEvent', () => {
  it('maps the documented PutObject payload (JSON text) to an archive request', () => {
    // Prepare
    const body = JSON.stringify({ events: [record()] });
    // Act
    const out = parseOssEvent(body, rules);
    // Assess
    expect(out).toEqual([
      {
        kind: 'archive',
        index: 0,
        request: {
          source: 'oss://ingest-bucket/incoming/a.log',
          sourceEtag: '688A7BF4F233DC9C88A80BF985AB7329',
          sourceSize: 122539,
          region: 'cn-shanghai',
          destination: 'oss://ingest-bucket/archive/a.log.gz',
          gzipLevel: 1,
          deleteSourceAfterVerify: false,
          idempotencyKey: archiveIdempotencyKey('ingest-bucket', 'incoming/a.log', '688A7BF4F233DC9C88A80BF985AB7329'),
          rule: 'logs',
          eventName: 'ObjectCreated:PutObject',
          eventTime: '2017-04-21T12:46:37.000Z',
        },
      },
    ]);
  });

  it('handles several records: archive types, ignored types, no rule, directory markers, duplicates', () => {
    // Prepare
    const body = Buffer.from(
      JSON.stringify({
        events: [
          record({ eventName: 'ObjectCreated:CompleteMultipartUpload', bucket: 'dump-bucket', key: 'db/2024.sql', size: 5e9, eTag: '"1C787C506EABFB9B45EAAA8DB039F4B2-2"' }),
          record({ eventName: 'ObjectCreated:UploadPart' }),
          record({ eventName: 'ObjectRemoved:DeleteObject' }),
          record({ eventName: 'oss:ObjectCreated:PostObject', key: 'incoming/b.log' }),
          record({ key: 'other/c.log' }),
          record({ key: 'incoming/dir/' }),
          record({ eventName: 'ObjectCreated:CopyObject', key: 'incoming/b.log' }),
          record({ eventName: 'ObjectCreated:AppendObject', key: 'incoming/d.log' }),
        ],
      }),
    );
    // Act
    const out = parseOssEvent(body, rules);
    // Assess
    expect(out.map((o) => o.kind)).toEqual(['archive', 'ignored', 'ignored', 'archive', 'ignored', 'ignored', 'ignored', 'ignored']);
    const [dump, post] = archives(out);
    expect(dump).toMatchObject({ destination: 'oss://cold-bucket/db/2024.sql.gz', gzipLevel: 3, deleteSourceAfterVerify: true, sourceSize: 5e9, sourceEtag: '1C787C506EABFB9B45EAAA8DB039F4B2-2' });
    expect(post).toMatchObject({ eventName: 'ObjectCreated:PostObject', destination: 'oss://ingest-bucket/archive/b.log.gz' });
    const reasons = out.map((o) => (o.kind === 'ignored' ? o.reason : ''));
    expect(reasons[1]).toMatch(/UploadPart does not create a complete object/);
    expect(reasons[2]).toMatch(/DeleteObject/);
    expect(reasons[4]).toMatch(/no archive rule matches oss:\/\/ingest-bucket\/other\/c.log/);
    expect(reasons[5]).toMatch(/directory marker/);
    expect(reasons[6]).toMatch(/duplicate/);
  });

  it('gives the same idempotency key to the same object and ETag delivered twice, a new one for a new ETag', () => {
    // Prepare
    const first = { events: [record()] };
    const again = { events: [record({ eTag: '"688a7bf4f233dc9c88a80bf985ab7329"' })] };
    const reupload = { events: [record({ eTag: 'FFFF7BF4F233DC9C88A80BF985AB7329' })] };
    // Act
    const [a, b, c] = [first, again, reupload].map((e) => archives(parseOssEvent(e, rules))[0]!.idempotencyKey);
    // Assess
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('decodes URL-encoded keys when asked, and keeps them verbatim by default', () => {
    // Prepare
    const body = { events: [record({ key: 'incoming/%E6%97%A5%E5%BF%97+2024%2F01.log' })] };
    // Act
    const decoded = archives(parseOssEvent(body, rules, { keyEncoding: 'url' }))[0]!;
    const plain = archives(parseOssEvent(body, rules))[0]!;
    // Assess
    expect(decoded.source).toBe('oss://ingest-bucket/incoming/日志 2024/01.log');
    expect(decoded.destination).toBe('oss://ingest-bucket/archive/日志 2024/01.log.gz');
    expect(plain.source).toBe('oss://ingest-bucket/incoming/%E6%97%A5%E5%BF%97+2024%2F01.log');
  });

  it('skips a malformed record with an error naming the field, and still maps the others', () => {
    // Prepare
    const bad = record();
    (bad.oss.object as { size: unknown }).size = '12';
    const badEncoding = record({ key: 'incoming/%E6%97' });
    const body = { events: [bad, record(), badEncoding] };
    // Act
    const out = parseOssEvent(body, rules, { keyEncoding: 'url' });
    // Assess
    expect(out.map((o) => o.kind)).toEqual(['ignored', 'archive', 'ignored']);
    const e0 = out[0]!.kind === 'ignored' ? out[0]!.error : undefined;
    const e2 = out[2]!.kind === 'ignored' ? out[2]!.error : undefined;
    expect(e0?.field).toBe('event.events[0].oss.object.size');
    expect(e2?.field).toBe('event.events[2].oss.object.key');
  });

  it.each([
    ['not json', 'event'],
    [JSON.stringify({ Records: [] }), 'event.events'],
    [JSON.stringify([1, 2]), 'event'],
  ])('refuses a payload %s at %s', (body, field) => {
    // Prepare / Act
    let caught: unknown;
    try {
      parseOssEvent(body, rules);
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe(field);
  });

  it('idempotency keys depend exactly on bucket, key and normalised ETag (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.stringMatching(/^[0-9A-F]{32}$/), fc.string(), (bucket, key, etag, other) => {
        // Prepare / Act
        const k = archiveIdempotencyKey(bucket, key, etag);
        // Assess
        expect(archiveIdempotencyKey(bucket, key, `"${etag.toLowerCase()}"`)).toBe(k);
        if (other !== key) expect(archiveIdempotencyKey(bucket, other, etag)).not.toBe(k);
        if (other !== bucket) expect(archiveIdempotencyKey(other, key, etag)).not.toBe(k);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ossEventBody', () => {
  it('builds the documented trigger record (the same as record() above) from the object facts', () => {
    // Prepare
    const expected = record();
    const { ruleId: _r, ...ossWithoutRule } = expected.oss;
    // Act
    const body = ossEventBody({ eventName: 'oss:ObjectCreated:PutObject', bucket: 'ingest-bucket', key: 'incoming/a.log', size: 122539, eTag: '"688a7bf4f233dc9c88a80bf985ab7329"', region: 'cn-shanghai', accountId: '123456789', eventTime: new Date('2017-04-21T12:46:37.000Z') });
    // Assess
    expect(body.events).toHaveLength(1);
    expect(body.events[0]).toMatchObject({ eventName: expected.eventName, eventSource: 'acs:oss', eventTime: expected.eventTime, eventVersion: '1.0', region: 'cn-shanghai', oss: ossWithoutRule, userIdentity: expected.userIdentity });
  });

  it('names the creation event by object type: Normal → PutObject, Multipart → CompleteMultipartUpload, Appendable → AppendObject', () => {
    // Act / Assess
    expect(creationEventName('Normal')).toBe('ObjectCreated:PutObject');
    expect(creationEventName(undefined)).toBe('ObjectCreated:PutObject');
    expect(creationEventName('Multipart')).toBe('ObjectCreated:CompleteMultipartUpload');
    expect(creationEventName('Appendable')).toBe('ObjectCreated:AppendObject');
  });

  it('round-trips through parseOssEvent: a built event for a key under a rule becomes that archive request (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s) && !s.endsWith('/')),
        fc.nat({ max: 2 ** 40 }),
        fc.stringMatching(/^[0-9a-f]{32}$/),
        fc.constantFrom('Normal', 'Multipart'),
        (rest, size, etag, type) => {
          // Prepare
          const key = `incoming/${rest}`;
          // Act
          const out = parseOssEvent(ossEventBody({ eventName: creationEventName(type), bucket: 'ingest-bucket', key, size, eTag: etag, region: 'cn-shanghai', accountId: '1', eventTime: new Date(0) }), rules);
          // Assess
          expect(archives(out)).toEqual([
            expect.objectContaining({ source: `oss://ingest-bucket/${key}`, sourceSize: size, sourceEtag: etag.toUpperCase(), destination: `oss://ingest-bucket/archive/${rest}.gz`, idempotencyKey: archiveIdempotencyKey('ingest-bucket', key, etag) }),
          ]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an AppendObject event is not archived (the object is not complete)', () => {
    // Act
    const out = parseOssEvent(ossEventBody({ eventName: creationEventName('Appendable'), bucket: 'ingest-bucket', key: 'incoming/a.log', size: 1, eTag: 'ab', region: 'cn-shanghai', accountId: '1', eventTime: new Date(0) }), rules);
    // Assess
    expect(out).toEqual([expect.objectContaining({ kind: 'ignored', eventName: 'ObjectCreated:AppendObject' })]);
  });
});
