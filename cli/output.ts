/**
 * What the commands print: one line to stdout or stderr, job reports as tables or JSON lines, a job's progress,
 * and a failed job explained in one line. Every command writes through these.
 */
import { jobReportToJson, type ArchiveReport, type CopyReport } from '../shared/report.ts';
import { ARCHIVE_META } from '../shared/verify.ts';
import type { JobProgress } from '../functions/status/progress.ts';
import type { JobReport } from '../local/cloud.ts';
import { formatBytes } from './args.ts';

/** One line to stdout / stderr (the commands' only output paths). */
export const out = (s: string) => process.stdout.write(s + '\n');
export const err = (s: string) => process.stderr.write(s + '\n');

/** Prints a copy or archive report (a table, or one JSON line carrying `kind`). */
export function printJobReport(r: JobReport, json = false): void {
  if (r.kind === 'archive') printArchiveReport(r, json);
  else printReport(r, json);
}

/** Prints label/value rows as an aligned table between blank lines. */
function printRows(rows: ReadonlyArray<readonly [string, string]>): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
  out('');
}

export function printArchiveReport(r: ArchiveReport, json = false): void {
  if (json) {
    out(JSON.stringify({ kind: 'archive', ...jobReportToJson(r) }));
    return;
  }
  const rows: Array<[string, string]> = [
    ['job id', r.jobId],
    ['source', r.source],
    ['destination', r.destination],
    ['input', `${r.size} bytes (${formatBytes(r.size)})`],
    ['gzip', `${r.compressedSize} bytes (${formatBytes(r.compressedSize)}), ratio ${r.ratio.toFixed(2)}, level ${r.gzipLevel}, ${formatBytes(r.memberSize)} members`],
    ['parts', `${r.parts} in ${r.tasks} task(s), ${r.rounds} round(s)`],
    ['time', `${r.seconds.toFixed(2)} s`],
    ['throughput', `${r.mbPerSecond.toFixed(1)} MB/s of input`],
    ['CRC-64 gzip', `${r.crc64} (combined parts == OSS)`],
    ['CRC-64 input', `${r.uncompressedCrc64} (combined task CRCs${r.verified.sourceCrc64 !== undefined ? ' == source' : ''}; x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64})`],
  ];
  if (r.reused.tasks > 0) rows.push(['resumed', `${r.reused.tasks} task(s) (${r.reused.parts} parts) reused from an earlier run`]);
  if (r.alreadyArchived) rows.push(['note', 'already archived at the destination; nothing uploaded']);
  if (r.inProgress) rows.push(['note', 'another run of this job is in progress; nothing uploaded']);
  printRows(rows);
}

export function printReport(r: CopyReport, json = false): void {
  if (json) {
    out(JSON.stringify({ kind: 'copy', ...jobReportToJson(r) }));
    return;
  }
  const rows: Array<[string, string]> = [
    ['job id', r.jobId],
    ['source', r.source],
    ['destination', r.destination],
    ['size', `${r.size} bytes (${formatBytes(r.size)})`],
    ['parts', `${r.parts} × ${formatBytes(r.partSize)}${r.resumedParts ? ` (${r.resumedParts} resumed: ${r.reused.byReceipt} proven by receipt, ${r.reused.byReread} by re-reading the source)` : ''}`],
    r.path === 'server-copy'
      ? ['path', `server-side copy (UploadPartCopy in the region): ${r.workerBytes ?? 0} bytes through workers, ${r.rounds} round(s)`]
      : ['workers', `${r.workers} parallel, ${r.tasks} invocations, ${r.rounds} round(s)`],
    ['time', `${r.seconds.toFixed(2)} s`],
    ['throughput', `${r.mbPerSecond.toFixed(1)} MB/s`],
    ['CRC-64', `${r.crc64} (combined parts == OSS${r.verified.sourceCrc64 !== undefined ? ' == source' : ''}${r.verified.expectedCrc64 !== undefined ? ' == expected' : ''})`],
  ];
  if (r.alreadyDone) rows.push(['note', 'already complete at the destination; nothing copied']);
  printRows(rows);
}

/** Explains a failed job in one or two lines (the coordinator's message names the cause and the abort). */
export function describeFailure(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (body && typeof body === 'object' && 'errorMessage' in body) {
    const b = body as { errorMessage: string; code?: string };
    return `ossferry: job failed${b.code ? ` (${b.code})` : ''}: ${b.errorMessage}`;
  }
  return `ossferry: ${(e as Error)?.message ?? String(e)}`;
}


export function printProgress(p: JobProgress, json = false): void {
  if (json) {
    out(JSON.stringify(p));
    return;
  }
  const pct = p.size > 0 ? ((p.bytes / p.size) * 100).toFixed(1) : '100.0';
  out(`job ${p.jobId}: ${p.state}`);
  out(`  ${p.source} → ${p.destination}`);
  if (p.archive) {
    out(`  input ${formatBytes(p.archive.inputBytesDone)} / ${formatBytes(p.size)} (${pct}%) in ${p.archive.tasksDone}/${p.archive.tasks} finished tasks, gzip ${formatBytes(p.archive.compressedBytesStored)} stored in ${p.parts} parts, round ${p.rounds}, run ${p.attempts}`);
  } else {
    out(`  ${formatBytes(p.bytes)} / ${formatBytes(p.size)} (${pct}%), parts ${p.parts}/${p.partCount} × ${formatBytes(p.partSize)}, round ${p.rounds}, run ${p.attempts}`);
  }
  out(`  started ${p.startedAt}, updated ${p.updatedAt}${p.uploadId ? `, upload ${p.uploadId}` : ''}`);
  if (p.error) out(`  error: ${p.error.code ?? p.error.name}: ${p.error.message}`);
}
