/**
 * XML request bodies per XML 1.0 (local/oss/xml.ts), with the exact shapes Go's encoding/xml produces (the
 * official Go SDK and ossutil): `&#34;` around part ETags, `&#39;`, `&#xA;`, `&#x9;`, `&#xD;` in keys, no XML
 * declaration, `Quiet` after the objects. Predefined entities, CDATA, comments, namespaces; DTDs and any
 * entity other than the five predefined ones are refused (400 MalformedXML): no external entities, ever.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OssError } from '../../local/oss/errors.ts';
import { parseCompleteBody, parseCreateBucketBody, parseDeleteBody } from '../../local/oss/xml.ts';

/** Go's xml.EscapeText (encoding/xml/xml.go escapeText), as used by xml.Marshal for character data. */
function goEscapeText(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '&#34;';
    else if (ch === "'") out += '&#39;';
    else if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '\t') out += '&#x9;';
    else if (ch === '\n') out += '&#xA;';
    else if (ch === '\r') out += '&#xD;';
    else if (!(cp === 0x09 || cp === 0x0a || cp === 0x0d || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000)) out += '\uFFFD';
    else out += ch;
  }
  return out;
}

/** xml.Marshal of the Go SDK's completeMultipartUploadXML{Part []UploadPart{PartNumber int; ETag string}}. */
const goComplete = (parts: [number, string][]) =>
  `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${goEscapeText(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;

/** xml.Marshal of the Go SDK's deleteXML{Objects []DeleteObject{Key}; Quiet bool}. */
const goDelete = (keys: string[], quiet: boolean) =>
  `<Delete>${keys.map((k) => `<Object><Key>${goEscapeText(k)}</Key></Object>`).join('')}<Quiet>${quiet}</Quiet></Delete>`;

function malformed(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof OssError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('XML request bodies as Go encoding/xml writes them', () => {
  it('Complete: `&#34;`-quoted ETags are the ETags', () => {
    // Prepare
    const body = goComplete([
      [1, '"3858F62230AC3C915F300C664312C63F"'],
      [2, '"0123456789ABCDEF0123456789ABCDEF"'],
    ]);
    // Act
    const parts = parseCompleteBody(body);
    // Assess
    expect(body).toContain('<ETag>&#34;3858F62230AC3C915F300C664312C63F&#34;</ETag>');
    expect(parts).toEqual([
      { partNumber: 1, etag: '3858F62230AC3C915F300C664312C63F' },
      { partNumber: 2, etag: '0123456789ABCDEF0123456789ABCDEF' },
    ]);
  });

  it('Delete: any key Go escapes comes back exactly, whatever the characters', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }), fc.boolean(), (raw, quiet) => {
        // Prepare: Go replaces characters XML cannot carry with U+FFFD, so those are the keys it sends.
        const keys = raw.map((k) => goEscapeText(k).replace(/&#34;|&#39;|&amp;|&lt;|&gt;|&#x9;|&#xA;|&#xD;/g, (e) => ({ '&#34;': '"', '&#39;': "'", '&amp;': '&', '&lt;': '<', '&gt;': '>', '&#x9;': '\t', '&#xA;': '\n', '&#xD;': '\r' })[e]!));
        // Act
        const parsed = parseDeleteBody(goDelete(keys, quiet));
        // Assess
        expect(parsed).toEqual({ quiet, keys });
      }),
    );
  });

  it('Delete: quotes, apostrophes, newlines, tabs and carriage returns in one key', () => {
    // Prepare
    const key = 'a"b\'c&d<e>f\ng\th\ri  ';
    // Act
    const parsed = parseDeleteBody(goDelete([key], false));
    // Assess
    expect(parsed).toEqual({ quiet: false, keys: [key] });
  });
});

describe('XML 1.0', () => {
  it('decimal and hex character references, predefined entities, CDATA, comments and PIs', () => {
    // Prepare
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- a comment --><Delete>' +
      '<Object><Key>&#65;&#x42;&#x1F600;&lt;&gt;&amp;&apos;&quot;</Key></Object>' +
      '<Object><Key><![CDATA[x<&>y]]>&amp;<![CDATA[]]></Key></Object>' +
      '<?pi ignored?><Quiet>true</Quiet></Delete>';
    // Act
    const parsed = parseDeleteBody(body);
    // Assess
    expect(parsed).toEqual({ quiet: true, keys: ['AB\u{1F600}<>&\'"', 'x<&>y&'] });
  });

  it('literal line breaks are normalised to LF (XML 1.0 §2.11); escaped ones are kept', () => {
    // Act
    const parsed = parseDeleteBody('<Delete><Object><Key>a\r\nb\rc&#xD;</Key></Object></Delete>');
    // Assess
    expect(parsed.keys).toEqual(['a\nb\nc\r']);
  });

  it('a default namespace and prefixed names are read by local name', () => {
    // Prepare
    const dflt = '<CompleteMultipartUpload xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com"><Part><PartNumber>3</PartNumber><ETag>"AA"</ETag></Part></CompleteMultipartUpload>';
    const prefixed = '<o:Delete xmlns:o="urn:x"><o:Object><o:Key>k</o:Key></o:Object></o:Delete>';
    // Act + Assess
    expect(parseCompleteBody(dflt)).toEqual([{ partNumber: 3, etag: 'AA' }]);
    expect(parseDeleteBody(prefixed)).toEqual({ quiet: false, keys: ['k'] });
  });

  it('CreateBucketConfiguration as the Go SDK writes it is accepted', () => {
    // Act + Assess
    expect(() => parseCreateBucketBody('<CreateBucketConfiguration><StorageClass>Standard</StorageClass></CreateBucketConfiguration>')).not.toThrow();
  });

  it('DTDs, undefined entities, illegal characters and broken structure → MalformedXML', () => {
    // Prepare
    const bad = [
      '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>',
      '<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>',
      '<Delete><Object><Key>&nbsp;</Key></Object></Delete>',
      '<Delete><Object><Key>&#0;</Key></Object></Delete>',
      '<Delete><Object><Key>&#xD800;</Key></Object></Delete>',
      '<Delete><Object><Key>&#x110000;</Key></Object></Delete>',
      '<Delete><Object><Key>&#;</Key></Object></Delete>',
      '<Delete><Object><Key>a & b</Key></Object></Delete>',
      '<Delete><Object><Key>a\u0001b</Key></Object></Delete>',
      '<Delete><Object><Key>k</Key></Object></Delete><Delete/>',
      '<Delete><Object><Key>k</Object></Key></Delete>',
      '<Delete><Object><Key>k</Key></Object>',
      '<Delete><Object><Key>k</Key></Object></Delete>trailing',
      '<u:Delete><Object><Key>k</Key></Object></u:Delete>',
      '<Delete a="1" a="2"><Object><Key>k</Key></Object></Delete>',
      '<Delete><Object><Key>]]></Key></Object></Delete>',
      '<Delete><!-- a -- b --><Object><Key>k</Key></Object></Delete>',
    ];
    // Act
    const codes = bad.map((b) => malformed(() => parseDeleteBody(b)));
    // Assess
    expect(codes).toEqual(bad.map(() => 'MalformedXML'));
  });
});

describe('XML reader robustness', () => {
  it('any input either parses or is refused as MalformedXML: no other exception, no hang', () => {
    // Prepare: well-formed fragments shuffled and cut, so that many inputs are nearly valid.
    const pieces = ['<Delete>', '</Delete>', '<Object>', '</Object>', '<Key>', '</Key>', 'k', '&amp;', '&#34;', '&#x', ';', '<![CDATA[', ']]>', '<!--', '-->', '<?p x?>', '<!DOCTYPE', ' ', '\r\n', '"', 'xmlns:a="u"', '<a:Key>', '</a:Key>', '&'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 30 }), fc.string({ maxLength: 8 }), (parts, noise) => {
        // Act
        const code = malformed(() => parseDeleteBody(parts.join('') + noise));
        // Assess
        expect(['accepted', 'MalformedXML']).toContain(code);
      }),
      { numRuns: 2000 },
    );
  });
});
