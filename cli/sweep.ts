/**
 * `ossferry sweep`: aborts the multipart uploads under the destinations that no job will complete (its job is
 * terminal or no job records it), older than `--older-than` (functions/sweep/sweep.ts decides and aborts). On a
 * local cloud (`--data-dir`) every bucket but the status bucket is swept unless `--destination` narrows it; on a
 * deployment `--destination oss://bucket[/prefix]` (repeatable) names them.
 */
import type OSS from 'ali-oss';
import type { Command } from 'commander';
import { InvalidInputError } from '../shared/errors.ts';
import { silentLogger } from '../shared/log.ts';
import { parseDurationSeconds } from '../shared/sweep.ts';
import { ossStatusStore, parseStatusLocation } from '../functions/status/store.ts';
import { sweepUploads, type SweepResult } from '../functions/sweep/sweep.ts';
import { err, out } from './output.ts';
import { ossAccess, statusLocationOf, type OssAccessFlags } from './oss-access.ts';

export interface SweepFlags extends OssAccessFlags {
  olderThan: string;
  dryRun?: boolean;
  json?: boolean;
  statusLocation?: string;
  destination?: string[];
}

const DESTINATION_FIX = 'pass --destination oss://bucket or oss://bucket/prefix (repeatable)';

/** `oss://bucket[/prefix]` → bucket and prefix ("" = whole bucket). */
export function parseDestination(text: string): { bucket: string; prefix: string } {
  try {
    const loc = parseStatusLocation(text, '--destination');
    return { bucket: loc.bucket, prefix: loc.prefix ? `${loc.prefix}/` : '' };
  } catch {
    throw new InvalidInputError('--destination', `${JSON.stringify(text.slice(0, 80))} is not oss://bucket[/prefix]`, DESTINATION_FIX);
  }
}

function printResult(r: SweepResult, dryRun: boolean, json: boolean): void {
  if (json) {
    out(JSON.stringify({
      dryRun,
      aborted: r.aborted,
      kept: r.kept,
      failed: r.failed,
      wouldAbort: dryRun ? r.decisions.filter((d) => d.action === 'abort').length : 0,
      uploads: r.decisions.map((d) => ({ bucket: d.upload.bucket, key: d.upload.key, uploadId: d.upload.uploadId, initiated: new Date(d.upload.initiatedMs).toISOString(), action: d.action, reason: d.reason, ...(d.aborted !== undefined ? { aborted: d.aborted } : {}), ...(d.error ? { error: d.error } : {}) })),
    }));
    return;
  }
  for (const d of r.decisions) {
    const verb = d.action === 'keep' ? 'keep ' : dryRun ? 'would abort' : d.aborted ? 'aborted' : 'FAILED to abort';
    out(`${verb}  oss://${d.upload.bucket}/${d.upload.key}  ${d.upload.uploadId}  (${d.reason}${d.error ? `: ${d.error}` : ''})`);
  }
  const wouldAbort = r.decisions.filter((d) => d.action === 'abort').length;
  out(dryRun ? `dry run: ${wouldAbort} upload(s) would be aborted, ${r.kept} kept` : `${r.aborted} upload(s) aborted, ${r.kept} kept, ${r.failed} failed`);
}

async function mustExist(client: OSS, bucket: string, flag: string, fix: string): Promise<void> {
  try {
    await client.getBucketInfo(bucket);
  } catch (e) {
    if ((e as { code?: string }).code === 'NoSuchBucket') throw new InvalidInputError(flag, `bucket ${bucket} does not exist`, fix, { cause: e });
    throw e;
  }
}

export async function sweepCommand(o: SweepFlags): Promise<number> {
  const olderThan = parseDurationSeconds(o.olderThan);
  if (typeof olderThan === 'string') throw new InvalidInputError('--older-than', olderThan, 'pass a duration such as 24h, 90m, 3600s or 7d');
  const destinations = (o.destination ?? []).map(parseDestination);
  if (!o.dataDir && destinations.length === 0) throw new InvalidInputError('--destination', 'is not set', `${DESTINATION_FIX}: the buckets the deployment writes to`);
  const location = statusLocationOf(o) ?? '';
  if (!location) throw new InvalidInputError('--status-location', 'is not set', 'pass --status-location oss://bucket/prefix (or set OSSFERRY_STATUS_LOCATION), or --data-dir for the local cloud');
  const loc = parseStatusLocation(location, '--status-location');
  const access = await ossAccess(o, 'ossferry copy or ossferry local cloud');
  try {
    const statusClient = access.client(loc.bucket);
    // Without the status objects every upload would look orphaned: a wrong location must stop the sweep.
    await mustExist(statusClient, loc.bucket, '--status-location', o.dataDir ? 'pass the --data-dir a local cloud ran jobs in' : 'pass the deployment\'s status location (OSSFERRY_STATUS_LOCATION of its functions)');
    if (destinations.length === 0) {
      // A local cloud has no configured destinations: every bucket it holds but the status bucket.
      const { buckets } = (await statusClient.listBuckets({})) as unknown as { buckets: Array<{ name: string }> | null };
      for (const b of buckets ?? []) if (b.name !== loc.bucket) destinations.push({ bucket: b.name, prefix: '' });
    }
    for (const d of destinations) await mustExist(access.client(d.bucket), d.bucket, '--destination', DESTINATION_FIX);
    const r = await sweepUploads({
      status: ossStatusStore(statusClient, loc),
      clientFor: (b) => access.client(b),
      destinations,
      olderThanMs: olderThan * 1000,
      dryRun: o.dryRun === true,
      logger: silentLogger,
    });
    printResult(r, o.dryRun === true, o.json === true);
    if (r.failed > 0) err(`ossferry: ${r.failed} upload(s) could not be aborted; run ossferry sweep again`);
    return r.failed > 0 ? 1 : 0;
  } finally {
    await access.close();
  }
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('abort multipart uploads under the destinations whose job is finished or unknown (orphans), older than --older-than')
    .option('--older-than <duration>', 'keep uploads initiated less than this long ago (e.g. 24h, 90m, 3600s)', '24h')
    .option('--dry-run', 'list what would be aborted, change nothing')
    .option('--destination <oss-url>', 'oss://bucket[/prefix] to sweep (repeatable; local cloud default: every bucket)', (v: string, all: string[] = []) => [...all, v])
    .option('--status-location <oss-url>', 'oss://bucket/prefix of status objects (env OSSFERRY_STATUS_LOCATION)')
    .option('--oss-endpoint <url>', 'OSS endpoint of the buckets')
    .option('--oss-region <region>', 'OSS region of the buckets, e.g. cn-hangzhou (credentials from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET)')
    .option('--data-dir <dir>', 'sweep a local cloud data directory instead')
    .option('--json', 'print one JSON line')
    .action(async (o: SweepFlags) => {
      process.exitCode = await sweepCommand(o);
    });
}
