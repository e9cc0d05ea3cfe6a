/**
 * docs/deploy.md stands alone: every file it names is in the repository, it points nowhere outside it, and
 * it covers what a first deploy needs (two phases, quotas, zones, regions, the check, the new config keys).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../infra/config-schema.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const doc = readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8');

describe('docs/deploy.md', () => {
  it('names only files that exist in the repository, and no research notes outside it', () => {
    // Prepare
    const named = [...doc.matchAll(/`((?:infra|shared|test|local|functions|docs|bench|cli|scripts)\/[\w./-]+\.(?:ts|md|json|mjs))`/g)].map((m) => m[1]!);
    // Act
    const missing = named.filter((f) => !existsSync(path.join(ROOT, f)));
    // Assess
    expect(named.length).toBeGreaterThan(5);
    expect(missing).toEqual([]);
    expect(doc).not.toMatch(/§|\]\(\.\.\//); // pointers to outside notes: test/unit/standalone.test.ts
  });

  it('covers the first deploy: two phases, quotas, zones, regions, infra:check and every new key', () => {
    // Assess
    expect(doc).toMatch(/## First deploy: two phases/);
    expect(doc).toMatch(/100 on-demand instances per region/);
    expect(doc).toMatch(/pulumi config set instanceQuota/);
    expect(doc).toMatch(/availableAZs/);
    expect(doc).toMatch(/Archive source buckets must be in the function's region/);
    expect(doc).toMatch(/npm run infra:check Pulumi\.prod\.yaml/);
    for (const key of ['instanceQuota', 'alarms.contactGroups', 'transfer.partSizeMb', 'transfer.streamsPerWorker', 'transfer.gzipLevel']) {
      expect(doc).toContain(`| \`${key}\` |`);
    }
    expect(doc).toContain(`| \`instanceQuota\` | \`${DEFAULTS.instanceQuota}\` |`);
  });

  it('gives the cost table with the source of each figure', () => {
    // Assess
    expect(doc).toMatch(/\| worker size \| CPU-bound at 2\.5 ns\/B \(measured\)/);
    expect(doc).toMatch(/Measured with `npm run bench:copy`.*\n.*`local\/cloud\.ts`/);
    expect(doc).toMatch(/FC's instance specification/);
  });
});
