/**
 * Pure parts of the local OSS: Range decisions (OSS GetObject, x-oss-range-behavior), conditional headers, XML in/out,
 * list paging, multipart ETag and fault dice.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentRange, decideCopyRange, decideRange, evaluateConditions } from '../../local/oss/range.ts';
import { parseCompleteBody, parseDeleteBody, toXml } from '../../local/oss/xml.ts';
import { listPage } from '../../local/oss/server.ts';
import { multipartEtag } from '../../local/oss/store.ts';
import { Faults, parseFaultConfig } from '../../local/oss/faults.ts';
import { OssError } from '../../local/oss/errors.ts';

describe('decideRange', () => {
  it('a valid single range is always partial and inside the object, in both modes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.nat(), fc.nat(), (size, a, b) => {
        // Prepare
        const start = a % size;
        const last = start + (b % (size - start));
        // Act
        const d = decideRange(`bytes=${start}-${last}`, size, false);
        const s = decideRange(`bytes=${start}-${last}`, size, true);
        // Assess
        expect(d).toEqual({ kind: 'partial', start, end: last + 1 });
        expect(s).toEqual(d);
      }),
    );
  });

  it('default mode ignores invalid or out-of-range requests; standard mode clamps or refuses', () => {
    // Act + Assess (table of OSS Range cases on a 1000-byte object)
    const cases: [string, ReturnType<typeof decideRange>, ReturnType<typeof decideRange>][] = [
      ['bytes=0-1000', { kind: 'full' }, { kind: 'partial', start: 0, end: 1000 }],
      ['bytes=500-2000', { kind: 'full' }, { kind: 'partial', start: 500, end: 1000 }],
      ['bytes=1000-1001', { kind: 'full' }, { kind: 'unsatisfiable' }],
      ['bytes=1000-', { kind: 'full' }, { kind: 'unsatisfiable' }],
      ['bytes=-2000', { kind: 'full' }, { kind: 'partial', start: 0, end: 1000 }],
      ['bytes=-10', { kind: 'partial', start: 990, end: 1000 }, { kind: 'partial', start: 990, end: 1000 }],
      ['byte=0-1', { kind: 'full' }, { kind: 'full' }],
      ['bytes=5-3', { kind: 'full' }, { kind: 'full' }],
      ['bytes=0-1,5-6', { kind: 'full' }, { kind: 'unsatisfiable' }],
    ];
    for (const [h, def, std] of cases) {
      expect([h, decideRange(h, 1000, false)]).toEqual([h, def]);
      expect([h, decideRange(h, 1000, true)]).toEqual([h, std]);
    }
    expect(decideRange(undefined, 10, true)).toEqual({ kind: 'full' });
    expect(contentRange(10, 20, 100)).toBe('bytes 10-19/100');
  });

  it('copy-source ranges must lie inside the source', () => {
    // Act + Assess
    expect(decideCopyRange(undefined, 100)).toEqual({ start: 0, end: 100 });
    expect(decideCopyRange('bytes=10-19', 100)).toEqual({ start: 10, end: 20 });
    expect(decideCopyRange('bytes=10-100', 100)).toBe('invalid');
    expect(decideCopyRange('bytes=x', 100)).toBe('invalid');
  });
});

describe('evaluateConditions', () => {
  const lm = Date.parse('2026-11-21T10:00:00Z');
  it('follows RFC 7232 precedence', () => {
    // Act + Assess
    expect(evaluateConditions({ ifMatch: '"ABC"' }, 'ABC', lm)).toEqual({ kind: 'ok' });
    expect(evaluateConditions({ ifMatch: '"abc", "X"' }, 'ABC', lm)).toEqual({ kind: 'ok' });
    expect(evaluateConditions({ ifMatch: '"X"' }, 'ABC', lm)).toEqual({ kind: 'failed', condition: 'If-Match' });
    expect(evaluateConditions({ ifMatch: '*', ifUnmodifiedSince: 'Sat, 21 Nov 2026 09:00:00 GMT' }, 'ABC', lm)).toEqual({ kind: 'ok' });
    expect(evaluateConditions({ ifUnmodifiedSince: 'Sat, 21 Nov 2026 09:00:00 GMT' }, 'ABC', lm).kind).toBe('failed');
    expect(evaluateConditions({ ifNoneMatch: '"ABC"' }, 'ABC', lm)).toEqual({ kind: 'not-modified' });
    expect(evaluateConditions({ ifModifiedSince: 'Sat, 21 Nov 2026 10:00:00 GMT' }, 'ABC', lm + 500)).toEqual({ kind: 'not-modified' });
    expect(evaluateConditions({ ifModifiedSince: 'Sat, 21 Nov 2026 09:59:59 GMT' }, 'ABC', lm)).toEqual({ kind: 'ok' });
  });
});

describe('XML', () => {
  it('round-trips Complete part lists with quoted ETags as ali-oss sends them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 10000 }), fc.stringMatching(/^[0-9A-F]{32}$/)), { minLength: 1, maxLength: 20 }), async (parts) => {
        // Prepare
        let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n';
        for (const [n, e] of parts) xml += `<Part>\n<PartNumber>${n}</PartNumber>\n<ETag>"${e}"</ETag>\n</Part>\n`;
        xml += '</CompleteMultipartUpload>';
        // Act
        const parsed = await parseCompleteBody(xml);
        // Assess
        expect(parsed).toEqual(parts.map(([partNumber, etag]) => ({ partNumber, etag })));
      }),
    );
  });

  it('keeps keys exact (spaces, entities) in Delete bodies, and escapes on output', async () => {
    // Act
    const d = await parseDeleteBody('<Delete><Quiet>true</Quiet><Object><Key> a &amp; b </Key></Object></Delete>');
    const out = toXml('R', { Key: '<&>"\'' });
    // Assess
    expect(d).toEqual({ quiet: true, keys: [' a & b '] });
    expect(out).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<R><Key>&lt;&amp;&gt;&quot;&apos;</Key></R>');
  });

  it('malformed input → OssError MalformedXML', async () => {
    for (const bad of ['', '<CompleteMultipartUpload><Part>', '<Other/>', '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>']) {
      // Act
      let err: unknown;
      try {
        await parseCompleteBody(bad);
      } catch (e) {
        err = e;
      }
      // Assess
      expect(err).toBeInstanceOf(OssError);
      expect((err as OssError).code).toBe('MalformedXML');
    }
  });
});

describe('listPage', () => {
  it('pages through every key exactly once, whatever the page size and delimiter', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[ab/]{1,6}$/), { maxLength: 30 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom('', '/'), (keys, max, delimiter) => {
        // Prepare
        const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        const seen: string[] = [];
        let after = '';
        // Act
        for (let i = 0; i < 100; i++) {
          const p = listPage(sorted, (k) => k, { prefix: '', after, delimiter, max });
          expect(p.items.length + p.prefixes.length).toBeLessThanOrEqual(max);
          seen.push(...p.items, ...p.prefixes);
          if (!p.truncated) break;
          after = p.last;
        }
        // Assess
        const expected = delimiter === '' ? sorted : [...new Set(sorted.map((k) => (k.includes('/') ? k.slice(0, k.indexOf('/') + 1) : k)))];
        expect(seen.sort()).toEqual([...expected].sort());
      }),
    );
  });
});

describe('multipart ETag', () => {
  it('matches the python SDK fixture', () => {
    // Act
    const etag = multipartEtag(['4DE8075FB607DF4D13FBC480EA488EFA', 'AF947EC157726CEA88ED83B3C989063B']);
    // Assess
    expect(etag).toBe('1C787C506EABFB9B45EAAA8DB039F4B2-2');
    expect(createHash('md5').update('').digest('hex')).toHaveLength(32);
  });
});

describe('faults', () => {
  it('the same seed gives the same decisions; rates 0 and 1 are absolute', () => {
    fc.assert(
      fc.property(fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }), (seed, rate) => {
        // Prepare
        const cfg = { seed, all: { errorRate: rate, resetRate: rate } };
        const a = new Faults(cfg);
        const b = new Faults(cfg);
        // Act
        const da = Array.from({ length: 20 }, () => a.decide('PutObject').kind);
        const db = Array.from({ length: 20 }, () => b.decide('PutObject').kind);
        // Assess
        expect(da).toEqual(db);
      }),
    );
    expect(new Faults({ all: { errorRate: 1 } }).decide('X')).toMatchObject({ kind: 'error', status: 500 });
    expect(new Faults({ operations: { X: { slowDownRate: 1 } } }).decide('X')).toMatchObject({ kind: 'error', status: 503 });
    expect(new Faults({ operations: { X: { slowDownRate: 1 } } }).decide('Y').kind).toBe('none');
    expect(() => parseFaultConfig({ all: { errorRate: 3 } })).toThrow(/errorRate/);
  });
});
