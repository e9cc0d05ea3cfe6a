/**
 * Whether a source version is pinned: every ranged read of a job must come from the one version the job
 * was planned against, or the object is spliced from two versions and still "verifies" (each part's CRC is
 * the CRC of what was read). Only a strong validator pins: a strong ETag (If-Match on every read), or a
 * published CRC-64 (OSS), which the job proves the whole copy against. Last-Modified has one-second
 * resolution and a weak ETag may stay the same across changes: a rewrite inside the same second, at the
 * same size, slips through both.
 */
import { InvalidInputError } from './errors.ts';

/** What pins a source version, strongest first. */
export type Validator = 'crc64' | 'etag' | 'mtime' | 'none';

/** The identity fields that can pin a version (SourceFingerprint in shared/job.ts). */
export interface PinFields {
  etag?: string;
  crc64?: bigint;
  mtimeMs?: number;
}

/** What a job does with a source that has no strong validator. */
export const UNPINNED_POLICIES = ['refuse', 'reread', 'trust'] as const;
export type UnpinnedPolicy = (typeof UNPINNED_POLICIES)[number];
export const DEFAULT_UNPINNED_POLICY: UnpinnedPolicy = 'refuse';

export function validatorOf(id: PinFields): Validator {
  if (id.crc64 !== undefined) return 'crc64';
  if (id.etag !== undefined && id.etag.startsWith('"')) return 'etag';
  if (id.mtimeMs !== undefined) return 'mtime';
  return 'none';
}

export const isPinned = (id: PinFields): boolean => {
  const v = validatorOf(id);
  return v === 'crc64' || v === 'etag';
};

/** A source without a strong validator under the default policy. Bad input: nothing was uploaded. */
export class UnpinnedSourceError extends InvalidInputError {}

/**
 * Refuses an unpinned identity under `refuse`; returns whether the job goes on unpinned (`reread`: every uploaded
 * range is read again and compared; `trust`: recorded in the report and the object's metadata).
 */
export function checkPinned(id: PinFields, policy: UnpinnedPolicy, source: string): { unpinned: boolean } {
  if (isPinned(id)) return { unpinned: false };
  if (policy !== 'refuse') return { unpinned: true };
  const has = validatorOf(id) === 'mtime' ? 'only Last-Modified (one-second resolution)' : 'neither a strong ETag nor a CRC-64';
  throw new UnpinnedSourceError(
    'unpinned',
    `${source} has ${has}, so a change during the copy could not be detected and the object could mix two versions; nothing was uploaded`,
    'serve the file with a strong ETag (or copy it from an OSS signed URL, which carries its CRC-64), or prove each part by reading it again with --unpinned reread (a second read of the source), or accept the risk with --unpinned trust (job field "unpinned"; the object is then marked unpinned)',
  );
}
