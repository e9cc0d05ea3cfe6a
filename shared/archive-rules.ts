/**
 * Archive rules: "objects created under oss://sourceBucket/sourcePrefix…sourceSuffix are gzipped to
 * oss://destinationBucket/destinationPrefix…(rest of key).gz". Loaded from stack config (infra/ builds one
 * OSS trigger per rule) and from env OSSFERRY_ARCHIVE_RULES in the coordinator. Pure: the Pulumi program
 * imports this module, so no SDKs, no native code, no I/O.
 *
 * Loop safety is decided here, at load: a rule whose output can fire any rule (itself included) is refused,
 * because an OSS trigger whose function writes into its own filter recurses forever
 * (FC docs: OSS trigger recursion; an empty prefix filter matches every key).
 * Two rules whose source filters can match the same key are refused too: whether OSS accepts overlapping
 * native triggers on one bucket is not documented, and an object archived twice is never what anyone wants.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.ts';
import { issueField, valueAt } from './issue-path.ts';
import { OSS } from './limits.ts';

export type GzipLevel = 0 | 1 | 2 | 3;

export interface ArchiveRule {
  name: string;
  sourceBucket: string;
  sourcePrefix: string;
  sourceSuffix: string;
  destinationBucket: string;
  destinationPrefix: string;
  deleteSourceAfterVerify: boolean;
  gzipLevel?: GzipLevel;
}

/** What every archive output key ends with. */
export const ARCHIVE_SUFFIX = '.gz';
export const DEFAULT_GZIP_LEVEL: GzipLevel = 1;
/** FC limits: at most 10 native OSS triggers per bucket (one trigger per rule). */
export const MAX_RULES_PER_BUCKET = 10;

// OSS bucket naming: 3–63 chars, lowercase letters, digits, hyphens, starting and ending with a letter/digit.
const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const keyPart = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .refine((s) => Buffer.byteLength(s) <= OSS.MAX_KEY_BYTES, { error: `${what} must be at most ${OSS.MAX_KEY_BYTES} bytes (OSS key limit)` })
    .refine((s) => !s.startsWith('/'), { error: `${what} must not start with "/" (OSS keys have no leading slash)` })
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { error: `${what} must not contain control characters` });

const bucket = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(BUCKET_RE, { error: `${what} must be an OSS bucket name: 3-63 lowercase letters, digits or "-"` });

export const archiveRuleSchema = z.strictObject({
  name: z.string({ error: 'name must be a string' }).regex(NAME_RE, {
    error: 'name must be 1-64 characters of letters, digits, "_" or "-", starting with a letter or digit',
  }),
  sourceBucket: bucket('sourceBucket'),
  sourcePrefix: keyPart('sourcePrefix').default(''),
  sourceSuffix: keyPart('sourceSuffix').default(''),
  destinationBucket: bucket('destinationBucket'),
  destinationPrefix: keyPart('destinationPrefix').default(''),
  deleteSourceAfterVerify: z.boolean({ error: 'deleteSourceAfterVerify must be true or false' }).default(false),
  // No default here: a rule without a level takes the deployment's transfer.gzipLevel (shared/job-defaults.ts), else ruleGzipLevel's.
  gzipLevel: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], { error: 'gzipLevel must be 0, 1, 2 or 3' }).optional(),
});

const FIXES: Record<string, string> = {
  name: 'give every rule a short unique name such as "logs-to-archive"',
  sourceBucket: 'use the exact name of the bucket whose uploads should be archived',
  destinationBucket: 'use the exact name of the bucket archives are written to',
  sourcePrefix: 'use a key prefix such as "incoming/" (no leading "/"), or omit it',
  sourceSuffix: 'use a key suffix such as ".csv", or omit it',
  destinationPrefix: 'use a key prefix such as "archive/" (no leading "/"), or omit it',
  deleteSourceAfterVerify: 'write true or false (default false)',
  gzipLevel: 'use 0, 1, 2 or 3 (default 1; higher levels cost CPU for little gain on large files)',
};

/** True when one string is a prefix of the other: then some key starts with both. */
export function prefixComparable(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** True when one string is a suffix of the other: then some key ends with both. */
export function suffixComparable(a: string, b: string): boolean {
  return a.endsWith(b) || b.endsWith(a);
}

/** Whether a key matches a rule's source filter (OSS filter semantics: prefix and suffix tested independently). */
export function ruleMatchesKey(rule: ArchiveRule, bucketName: string, key: string): boolean {
  return rule.sourceBucket === bucketName && key.startsWith(rule.sourcePrefix) && key.endsWith(rule.sourceSuffix);
}

/**
 * Can some output of `producer` match `consumer`'s source filter? Outputs are
 * destinationPrefix + X + ".gz" for arbitrary X (a superset of the real outputs, so "no" is safe).
 * Such a key starts with consumer.sourcePrefix iff the two prefixes are prefix-comparable (X supplies the
 * rest), and then ends with consumer.sourceSuffix iff that suffix and ".gz" are suffix-comparable
 * (X supplies the part before ".gz"; an empty suffix matches everything).
 */
export function outputCanTrigger(producer: ArchiveRule, consumer: ArchiveRule): boolean {
  return (
    producer.destinationBucket === consumer.sourceBucket &&
    prefixComparable(producer.destinationPrefix, consumer.sourcePrefix) &&
    suffixComparable(consumer.sourceSuffix, ARCHIVE_SUFFIX)
  );
}

/** Can one key match both rules' source filters? */
export function sourcesOverlap(a: ArchiveRule, b: ArchiveRule): boolean {
  return (
    a.sourceBucket === b.sourceBucket &&
    prefixComparable(a.sourcePrefix, b.sourcePrefix) &&
    suffixComparable(a.sourceSuffix, b.sourceSuffix)
  );
}

/**
 * Validates a JSON array of rules (already JSON-parsed) and the whole set's loop safety.
 * Throws InvalidInputError naming the exact path, e.g. `archiveRules[1].destinationPrefix`.
 */
export function parseArchiveRules(raw: unknown, field = 'archiveRules'): ArchiveRule[] {
  if (!Array.isArray(raw)) {
    throw new InvalidInputError(field, 'must be a JSON array of archive rules', 'write [] for no rules, or [{"name":…,"sourceBucket":…,"destinationBucket":…}]');
  }
  const rules: ArchiveRule[] = [];
  raw.forEach((item, i) => {
    const res = archiveRuleSchema.safeParse(item);
    if (!res.success) {
      const issue = res.error.issues[0]!;
      const f = issueField(`${field}[${i}]`, issue.path);
      const top = String(issue.path[0] ?? '');
      const fix =
        issue.code === 'unrecognized_keys'
          ? `remove ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed fields are ${Object.keys(archiveRuleSchema.shape).join(', ')}`
          : (FIXES[top] ?? 'each rule is an object with name, sourceBucket and destinationBucket');
      const missing = issue.code === 'invalid_type' && valueAt(item, issue.path) === undefined;
      throw new InvalidInputError(f, missing ? 'is required' : issue.message, fix);
    }
    rules.push(res.data);
  });

  const seen = new Map<string, number>();
  const perBucket = new Map<string, number>();
  rules.forEach((r, i) => {
    const prev = seen.get(r.name);
    if (prev !== undefined) {
      throw new InvalidInputError(`${field}[${i}].name`, `duplicates the name of ${field}[${prev}] ("${r.name}")`, 'give every rule a unique name');
    }
    seen.set(r.name, i);
    const n = (perBucket.get(r.sourceBucket) ?? 0) + 1;
    perBucket.set(r.sourceBucket, n);
    if (n > MAX_RULES_PER_BUCKET) {
      throw new InvalidInputError(
        `${field}[${i}].sourceBucket`,
        `more than ${MAX_RULES_PER_BUCKET} rules on bucket "${r.sourceBucket}" (FC allows ≤${MAX_RULES_PER_BUCKET} OSS triggers per bucket)`,
        'merge rules that share a prefix, or archive from fewer prefixes',
      );
    }
  });

  rules.forEach((producer, i) => {
    rules.forEach((consumer, j) => {
      if (!outputCanTrigger(producer, consumer)) return;
      const target = i === j ? 'itself' : `${field}[${j}] ("${consumer.name}")`;
      const filter = `oss://${consumer.sourceBucket}/${consumer.sourcePrefix}*${consumer.sourceSuffix}`;
      throw new InvalidInputError(
        `${field}[${i}].destinationPrefix`,
        `outputs oss://${producer.destinationBucket}/${producer.destinationPrefix}*${ARCHIVE_SUFFIX} can match ${filter} and would re-trigger ${target} in a loop`,
        'write archives to a destinationPrefix that neither contains nor is contained in any sourcePrefix of that bucket (e.g. "archive/" vs "incoming/"), or to another bucket, or give the source rule a sourceSuffix that ".gz" cannot end with',
      );
    });
  });

  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      if (!sourcesOverlap(rules[i]!, rules[j]!)) continue;
      throw new InvalidInputError(
        `${field}[${j}].sourcePrefix`,
        `can match the same objects as ${field}[${i}] ("${rules[i]!.name}"), so one upload would be archived twice`,
        'give the two rules disjoint sourcePrefix values (neither a prefix of the other) or sourceSuffix values (neither a suffix of the other)',
      );
    }
  }
  return rules;
}

/** The one rule whose source filter matches bucket/key (at most one after parseArchiveRules), or undefined. */
export function matchArchiveRule(rules: readonly ArchiveRule[], bucketName: string, key: string): ArchiveRule | undefined {
  return rules.find((r) => ruleMatchesKey(r, bucketName, key));
}

/** destinationPrefix + (key without sourcePrefix) + ".gz". The key must match the rule. */
export function archiveDestinationKey(rule: ArchiveRule, key: string): string {
  if (!key.startsWith(rule.sourcePrefix)) {
    throw new InvalidInputError('key', `"${key}" does not start with the sourcePrefix "${rule.sourcePrefix}" of rule "${rule.name}"`, 'only map keys that matchArchiveRule returned this rule for');
  }
  return rule.destinationPrefix + key.slice(rule.sourcePrefix.length) + ARCHIVE_SUFFIX;
}

/** The rule's gzip level with the default applied. */
export function ruleGzipLevel(rule: ArchiveRule): GzipLevel {
  return rule.gzipLevel ?? DEFAULT_GZIP_LEVEL;
}
