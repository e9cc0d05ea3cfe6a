import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributesFromHeaders, contentTypeFor, destinationHeaders, destinationMeta, objectOptionsSchema, sourceBaseName } from '../../shared/attributes.ts';
import { parseJob } from '../../shared/job.ts';

const defaults = objectOptionsSchema.parse({});

describe('object attributes', () => {
  it('keeps the carried headers and x-oss-meta-* of a response, nothing else', () => {
    // Act
    const a = attributesFromHeaders({
      'content-type': 'text/csv',
      'cache-control': 'max-age=60',
      'content-disposition': 'attachment; filename="a.csv"',
      'content-encoding': 'identity',
      expires: 'Wed, 21 Oct 2026 07:28:00 GMT',
      etag: '"x"',
      'x-oss-meta-owner': 'ops',
      'x-oss-meta-': 'empty name',
      'x-oss-server-side-encryption': 'AES256',
      'content-language': 'en',
    });
    // Assess
    expect(a.headers).toEqual({ 'content-type': 'text/csv', 'cache-control': 'max-age=60', 'content-disposition': 'attachment; filename="a.csv"', 'content-encoding': 'identity', expires: 'Wed, 21 Oct 2026 07:28:00 GMT' });
    expect(a.meta).toEqual({ owner: 'ops' });
  });

  it('a copy keeps the source headers; without a type it is guessed from the key; --no-preserve drops them', () => {
    // Prepare
    const source = { headers: { 'content-type': 'text/csv', 'cache-control': 'no-store' }, meta: { owner: 'ops' } };
    // Act
    const kept = destinationHeaders({ mode: 'copy', key: 'a/b.bin', source, options: defaults });
    const guessed = destinationHeaders({ mode: 'copy', key: 'logs/app.json', options: defaults });
    const dropped = destinationHeaders({ mode: 'copy', key: 'logs/app.json', source, options: { ...defaults, preserve: false } });
    const droppedMeta = destinationMeta({ mode: 'copy', source, options: { ...defaults, preserve: false } });
    // Assess
    expect(kept).toEqual({ 'content-type': 'text/csv', 'cache-control': 'no-store' });
    expect(guessed).toEqual({ 'content-type': 'application/json' });
    expect(dropped).toEqual({ 'content-type': 'application/json' });
    expect(droppedMeta).toEqual({});
  });

  it('an archive is application/gzip without Content-Encoding and keeps the source type in metadata', () => {
    // Prepare
    const source = { headers: { 'content-type': 'text/plain', 'content-encoding': 'identity', 'cache-control': 'no-cache' }, meta: { a: '1' } };
    // Act
    const h = destinationHeaders({ mode: 'archive', key: 'x.log.gz', source, options: defaults });
    const m = destinationMeta({ mode: 'archive', source, options: defaults });
    // Assess
    expect(h).toEqual({ 'content-type': 'application/gzip', 'cache-control': 'no-cache' });
    expect(m).toEqual({ a: '1', 'source-content-type': 'text/plain' });
  });

  it('storage class, encryption with a KMS key, tags and ACL become OSS headers', () => {
    // Prepare
    const options = objectOptionsSchema.parse({ storageClass: 'IA', serverSideEncryption: 'KMS', kmsKeyId: 'key-1', tags: { project: 'alpha beta', 'a&b': 'c=d' }, acl: 'private' });
    // Act
    const h = destinationHeaders({ mode: 'copy', key: 'k', options });
    // Assess
    expect(h).toEqual({
      'x-oss-storage-class': 'IA',
      'x-oss-server-side-encryption': 'KMS',
      'x-oss-server-side-encryption-key-id': 'key-1',
      'x-oss-tagging': 'project=alpha+beta&a%26b=c%3Dd',
      'x-oss-object-acl': 'private',
    });
    expect(Object.fromEntries(new URLSearchParams(h['x-oss-tagging']))).toEqual({ project: 'alpha beta', 'a&b': 'c=d' });
  });

  it('property: only printable ASCII reaches the destination headers and metadata', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('content-type', 'cache-control', 'expires', 'x-oss-meta-a', 'x-oss-meta-b', 'other'), fc.string({ unit: 'binary' })), fc.boolean(), (headers, archive) => {
        const source = attributesFromHeaders(headers);
        const mode = archive ? 'archive' : 'copy';
        const all = [...Object.values(destinationHeaders({ mode, key: 'k.bin', source, options: defaults })), ...Object.values(destinationMeta({ mode, source, options: defaults }))];
        expect(all.every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
      }),
    );
  });

  it('knows content types and source base names', () => {
    // Assess
    expect(contentTypeFor('a/b/c.csv')).toBe('text/csv');
    expect(contentTypeFor('noext')).toBeUndefined();
    expect(sourceBaseName('https://h/dir/my%20file.log?sig=1')).toBe('my file.log');
    expect(sourceBaseName('oss://b/dir/x.bin')).toBe('x.bin');
    expect(sourceBaseName('sftp://u@h:22/var/log/app.log')).toBe('app.log');
    expect(sourceBaseName('https://h/dir/')).toBeUndefined();
  });
});

describe('job: destination ending in "/" and object options', () => {
  it('a destination ending in "/" takes the source base name (and .gz for an archive)', () => {
    // Act
    const copy = parseJob({ source: 'https://h/data/big.bin', destination: 'oss://dst/imports/' });
    const archive = parseJob({ source: 'oss://src/logs/app.log', destination: 'oss://dst/archive/', mode: 'archive' });
    const gz = parseJob({ source: 'oss://src/logs/app.log.gz', destination: 'oss://dst/archive/', mode: 'archive' });
    // Assess
    expect(copy.destination).toEqual({ bucket: 'dst', key: 'imports/big.bin' });
    expect(archive.destination).toEqual({ bucket: 'dst', key: 'archive/app.log.gz' });
    expect(gz.destination).toEqual({ bucket: 'dst', key: 'archive/app.log.gz' });
  });

  it('refuses a "/" destination for a source without a file name, and a KMS key without KMS', () => {
    // Act
    const noName = () => parseJob({ source: 'https://h/dir/', destination: 'oss://dst/imports/' });
    const kms = () => parseJob({ source: 'https://h/a', destination: 'oss://dst/a', object: { kmsKeyId: 'k' } });
    const badClass = () => parseJob({ source: 'https://h/a', destination: 'oss://dst/a', object: { storageClass: 'Glacier' } });
    // Assess
    expect(noName).toThrow(/^destination: ends in "\/" but the source .* has no file name\. Fix: name the destination object in full/);
    expect(kms).toThrow(/^object\.kmsKeyId: only applies with serverSideEncryption KMS/);
    expect(badClass).toThrow(/^object\.storageClass: .*Fix: use \{"preserve"/);
  });
});
