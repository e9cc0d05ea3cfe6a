/** The source registry's pure half (shared/sources.ts): parsing by scheme, capabilities, job-field applicability. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJob } from '../../shared/job.ts';
import { capabilitiesOf, jobFieldProblem, parseSource, SOURCE_SCHEMES, sourceSchemeOf, urlScheme, type SourceKind } from '../../shared/sources.ts';

const segment = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
const absPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((a) => `/${a.join('/')}`);

describe('source registry: parse', () => {
  it('every entry parses its own example into a descriptor of its kind', () => {
    for (const entry of Object.values(SOURCE_SCHEMES)) {
      // Act
      const d = parseSource(entry.example);
      // Assess
      expect(d, entry.scheme).toMatchObject({ kind: entry.kind, url: entry.example });
    }
  });

  it('a file:// URL of any absolute path parses to that path, and a job keeps it as a file source', () => {
    fc.assert(
      fc.property(absPath, (p) => {
        // Act
        const d = parseSource(`file://${p}`);
        const job = parseJob({ source: `file://${p}`, destination: 'oss://bkt/k' });
        // Assess
        expect(d).toEqual({ kind: 'file', url: `file://${p}`, path: p });
        expect(job.source).toEqual(d);
      }),
    );
  });

  const bad: Array<[string, RegExp]> = [
    ['not a url', /^is not a URL$/],
    ['ftp://h/f', /^scheme ftp: is not supported$/],
    ['https://exa mple.com/a', /^is not a URL$/],
    ['oss://Bad_Bucket/k', /is not an OSS bucket name/],
    ['sftp://host/path', /has no user name/],
    ['sftp://u:pw@host/path', /password authentication is not supported/],
    ['file://elsewhere/etc/passwd', /names host elsewhere; file:\/\/ sources are local/],
    ['file:///tmp/dir/', /does not name a file/],
    ['file:///tmp/a?x=1', /has a query or fragment/],
    ['file:///tmp/a%2Fb', /is not a file path/],
  ];
  for (const [url, problem] of bad) {
    it(`refuses ${url} with the problem and a fix`, () => {
      // Act
      const d = parseSource(url);
      // Assess
      expect(d).toMatchObject({ problem: expect.stringMatching(problem), fix: expect.any(String) });
    });
  }

  it('the job schema reports the same problem, naming source', () => {
    // Act
    const act = () => parseJob({ source: 'file://elsewhere/etc/passwd', destination: 'oss://bkt/k' });
    // Assess
    expect(act).toThrow(/^source: names host elsewhere; file:\/\/ sources are local\. Fix: /);
  });

  it('a scheme is looked up case-insensitively; a plain path has none', () => {
    // Act
    const upper = sourceSchemeOf('HTTPS://example.com/a');
    // Assess
    expect(upper).toMatchObject({ scheme: 'https' });
    expect(urlScheme('./data/file.bin')).toBeUndefined();
    expect(urlScheme('/abs/file.bin')).toBeUndefined();
    expect(urlScheme('file:///abs/file.bin')).toBe('file');
  });
});

describe('source registry: capabilities and job fields', () => {
  it('only a kind whose identity can lack a strong validator answers to the unpinned policy', () => {
    // Act
    const kinds = (['http', 'oss', 'sftp', 'file'] as const).filter((k) => capabilitiesOf(k).unpinnedPolicy);
    // Assess
    expect(kinds).toEqual(['http']);
  });

  it('server-side copy is possible from oss:// only, and only oss:// needs OSS credentials', () => {
    // Act
    const copyable = (['http', 'oss', 'sftp', 'file'] as const).filter((k) => capabilitiesOf(k).serverSideCopy);
    const credentialed = (['http', 'oss', 'sftp', 'file'] as const).filter((k) => capabilitiesOf(k).needs.includes('ossCredentials'));
    // Assess
    expect(copyable).toEqual(['oss']);
    expect(credentialed).toEqual(['oss']);
  });

  it('a job field is refused on every kind that does not take it, naming the schemes that do', () => {
    const cases: Array<[Parameters<typeof jobFieldProblem>[0], SourceKind, RegExp | undefined]> = [
      ['sourceEndpoint', 'oss', undefined],
      ['sourceEndpoint', 'file', /^only applies to oss:\/\/ sources$/],
      ['sourceRegion', 'http', /^only applies to oss:\/\/ sources$/],
      ['sftpHostKeyFingerprint', 'sftp', undefined],
      ['sftpHostKeyFingerprint', 'file', /^only applies to sftp:\/\/ sources$/],
    ];
    for (const [field, kind, problem] of cases) {
      // Act
      const got = jobFieldProblem(field, kind);
      // Assess
      if (problem === undefined) expect(got, `${field} on ${kind}`).toBeUndefined();
      else expect(got?.problem, `${field} on ${kind}`).toMatch(problem);
    }
  });
});
