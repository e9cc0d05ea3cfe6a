import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  archiveDestinationKey,
  matchArchiveRule,
  parseArchiveRules,
  ruleGzipLevel,
  ruleMatchesKey,
  type ArchiveRule,
} from '../../shared/archive-rules.ts';
import { InvalidInputError } from '../../shared/errors.ts';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).field;
  }
  throw new Error('expected InvalidInputError');
}

describe('parseArchiveRules', () => {
  it('applies defaults', () => {
    // Prepare
    const raw = [{ name: 'logs', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket' }];
    // Act
    const rules = parseArchiveRules(raw);
    // Assess
    expect(rules).toEqual([
      {
        name: 'logs',
        sourceBucket: 'src-bucket',
        sourcePrefix: '',
        sourceSuffix: '',
        destinationBucket: 'dst-bucket',
        destinationPrefix: '',
        deleteSourceAfterVerify: false,
      },
    ]);
    // No level given: the deployment's transfer.gzipLevel applies, else the built-in default.
    expect(ruleGzipLevel(rules[0]!)).toBe(1);
  });

  it('names the exact path of a bad field and the fix', () => {
    // Prepare
    const raw = [
      { name: 'a', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket' },
      { name: 'b', sourceBucket: 'src-other', destinationBucket: 'dst-bucket', destinationPrefix: 7 },
    ];
    // Act
    let caught: unknown;
    try {
      parseArchiveRules(raw);
    } catch (err) {
      caught = err;
    }
    // Assess
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe('archiveRules[1].destinationPrefix');
    expect((caught as Error).message).toMatch(/Fix: /);
  });

  it.each([
    [{ sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket' }, 'rules[0].name', /is required/],
    [{ name: 'a', sourceBucket: 'Bad_Bucket', destinationBucket: 'dst-bucket' }, 'rules[0].sourceBucket', /bucket name/],
    [{ name: 'a', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket', gzipLevel: 9 }, 'rules[0].gzipLevel', /0, 1, 2 or 3/],
    [{ name: 'a', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket', sourcePrefix: '/in/' }, 'rules[0].sourcePrefix', /leading|start with/],
    [{ name: 'a', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket', colour: 'red' }, 'rules[0]', /colour/],
    [{ name: 'a', sourceBucket: 'src-bucket', destinationBucket: 'dst-bucket', deleteSourceAfterVerify: 'yes' }, 'rules[0].deleteSourceAfterVerify', /true or false/],
  ])('refuses %j at %s', (rule, field, message) => {
    // Prepare
    const raw = [rule];
    // Act
    let caught: unknown;
    try {
      parseArchiveRules(raw, 'rules');
    } catch (err) {
      caught = err;
    }
    // Assess
    expect((caught as InvalidInputError).field).toBe(field);
    expect((caught as Error).message).toMatch(message);
  });

  it('refuses a non-array', () => {
    // Prepare / Act
    const field = fieldOf(() => parseArchiveRules({ name: 'a' }));
    // Assess
    expect(field).toBe('archiveRules');
  });

  it('refuses a rule writing into its own source filter (empty prefix matches everything)', () => {
    // Prepare
    const raw = [{ name: 'a', sourceBucket: 'same-bucket', destinationBucket: 'same-bucket', destinationPrefix: 'archive/' }];
    // Act
    const field = fieldOf(() => parseArchiveRules(raw));
    // Assess
    expect(field).toBe('archiveRules[0].destinationPrefix');
  });

  it('refuses output prefixes nested either way inside a source prefix', () => {
    // Prepare
    const inner = [{ name: 'a', sourceBucket: 'bkt', sourcePrefix: 'in/', destinationBucket: 'bkt', destinationPrefix: 'in/archive/' }];
    const outer = [{ name: 'a', sourceBucket: 'bkt', sourcePrefix: 'in/raw/', destinationBucket: 'bkt', destinationPrefix: 'in/' }];
    // Act
    const f1 = fieldOf(() => parseArchiveRules(inner));
    const f2 = fieldOf(() => parseArchiveRules(outer));
    // Assess
    expect(f1).toBe('archiveRules[0].destinationPrefix');
    expect(f2).toBe('archiveRules[0].destinationPrefix');
  });

  it('refuses a rule whose output triggers another rule, and suffixes that .gz can end with', () => {
    // Prepare
    const chain = [
      { name: 'a', sourceBucket: 'bkt', sourcePrefix: 'in/', destinationBucket: 'bkt', destinationPrefix: 'out/' },
      { name: 'b', sourceBucket: 'bkt', sourcePrefix: 'out/', sourceSuffix: 'gz', destinationBucket: 'other' },
    ];
    // Act
    const field = fieldOf(() => parseArchiveRules(chain));
    // Assess
    expect(field).toBe('archiveRules[0].destinationPrefix');
  });

  it('accepts same-bucket rules with disjoint prefixes or a suffix .gz cannot end with', () => {
    // Prepare
    const raw = [
      { name: 'a', sourceBucket: 'bkt', sourcePrefix: 'in/', destinationBucket: 'bkt', destinationPrefix: 'archive/' },
      { name: 'b', sourceBucket: 'bkt', sourcePrefix: 'tars/', sourceSuffix: '.tar', destinationBucket: 'bkt', destinationPrefix: 'tars/' },
    ];
    // Act
    const rules = parseArchiveRules(raw);
    // Assess
    expect(rules.map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('refuses overlapping source filters and duplicate names', () => {
    // Prepare
    const overlap = [
      { name: 'a', sourceBucket: 'bkt', sourcePrefix: 'in/', destinationBucket: 'dst' },
      { name: 'b', sourceBucket: 'bkt', sourcePrefix: 'in/logs/', sourceSuffix: '.log', destinationBucket: 'dst' },
    ];
    const dup = [
      { name: 'a', sourceBucket: 'bkt', sourcePrefix: 'x/', destinationBucket: 'dst' },
      { name: 'a', sourceBucket: 'bkt', sourcePrefix: 'y/', destinationBucket: 'dst' },
    ];
    // Act
    const f1 = fieldOf(() => parseArchiveRules(overlap));
    const f2 = fieldOf(() => parseArchiveRules(dup));
    // Assess
    expect(f1).toBe('archiveRules[1].sourcePrefix');
    expect(f2).toBe('archiveRules[1].name');
  });

  it('refuses more than 10 rules on one bucket', () => {
    // Prepare
    const raw = Array.from({ length: 11 }, (_, i) => ({
      name: `r${i}`,
      sourceBucket: 'bkt',
      sourcePrefix: `p${String(i).padStart(2, '0')}/`,
      destinationBucket: 'dst',
    }));
    // Act
    const field = fieldOf(() => parseArchiveRules(raw));
    // Assess
    expect(field).toBe('archiveRules[10].sourceBucket');
  });
});

describe('matchArchiveRule / archiveDestinationKey', () => {
  const rules = parseArchiveRules([
    { name: 'logs', sourceBucket: 'bkt', sourcePrefix: 'in/', sourceSuffix: '.log', destinationBucket: 'bkt', destinationPrefix: 'archive/' },
    { name: 'all', sourceBucket: 'other', destinationBucket: 'dst', deleteSourceAfterVerify: true, gzipLevel: 3 },
  ]);

  it('maps a matching key to the destination key', () => {
    // Prepare
    const key = 'in/2024/app.log';
    // Act
    const rule = matchArchiveRule(rules, 'bkt', key);
    // Assess
    expect(rule?.name).toBe('logs');
    expect(archiveDestinationKey(rule!, key)).toBe('archive/2024/app.log.gz');
  });

  it('returns undefined for other buckets, prefixes and suffixes', () => {
    // Prepare
    const probes: Array<[string, string]> = [
      ['dst', 'in/a.log'],
      ['bkt', 'out/a.log'],
      ['bkt', 'in/a.txt'],
      ['bkt', 'archive/a.log.gz'],
    ];
    // Act
    const matched = probes.map(([b, k]) => matchArchiveRule(rules, b, k));
    // Assess
    expect(matched).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('refuses to map a key outside the rule', () => {
    // Prepare
    const rule = rules[0]!;
    // Act
    const field = fieldOf(() => archiveDestinationKey(rule, 'elsewhere/a.log'));
    // Assess
    expect(field).toBe('key');
  });
});

describe('loop safety (property)', () => {
  // Small alphabets make prefix/suffix collisions likely, so both accepted and refused sets are common.
  const piece = fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', 'g', 'z'), maxLength: 4 });
  const bucketName = fc.constantFrom('bk1', 'bk2');
  const rawRule = fc.record({
    sourceBucket: bucketName,
    sourcePrefix: piece,
    sourceSuffix: piece,
    destinationBucket: bucketName,
    destinationPrefix: piece,
  });

  it('for any accepted rule set, no output of any matching key matches any rule', () => {
    fc.assert(
      fc.property(fc.array(rawRule, { minLength: 1, maxLength: 4 }), fc.array(piece, { minLength: 1, maxLength: 6 }), (raws, middles) => {
        // Prepare
        let rules: ArchiveRule[];
        try {
          rules = parseArchiveRules(raws.map((r, i) => ({ ...r, name: `r${i}` })));
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidInputError);
          return;
        }
        // Act: generate source keys each rule matches, and their outputs
        const outputs: Array<[string, string]> = [];
        for (const rule of rules) {
          for (const mid of middles) {
            const key = rule.sourcePrefix + mid + rule.sourceSuffix;
            expect(ruleMatchesKey(rule, rule.sourceBucket, key)).toBe(true);
            outputs.push([rule.destinationBucket, archiveDestinationKey(rule, key)]);
          }
        }
        // Assess
        for (const [b, k] of outputs) {
          for (const rule of rules) expect(ruleMatchesKey(rule, b, k)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a refused set really has a rule whose output can match some rule', () => {
    fc.assert(
      fc.property(fc.array(rawRule, { minLength: 1, maxLength: 3 }), (raws) => {
        // Prepare
        const named = raws.map((r, i) => ({ ...r, name: `r${i}` }));
        // Act
        let refusedFor: string | undefined;
        try {
          parseArchiveRules(named);
        } catch (err) {
          if ((err as Error).message.includes('re-trigger')) refusedFor = (err as InvalidInputError).field;
        }
        // Assess: a loop refusal is witnessed by a concrete key (the refusal is not over-eager)
        fc.pre(refusedFor !== undefined);
        const i = Number(/\[(\d+)\]/.exec(refusedFor!)![1]);
        const p = named[i]!;
        const witnessed = named.some((c) => {
          if (c.sourceBucket !== p.destinationBucket) return false;
          const longer = p.destinationPrefix.length >= c.sourcePrefix.length ? p.destinationPrefix : c.sourcePrefix;
          const tail = c.sourceSuffix.endsWith('.gz') ? c.sourceSuffix : '.gz';
          const mid = longer.slice(p.destinationPrefix.length) + tail.slice(0, tail.length - 3);
          const out = p.destinationPrefix + mid + '.gz';
          return out.startsWith(c.sourcePrefix) && out.endsWith(c.sourceSuffix);
        });
        expect(witnessed).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
