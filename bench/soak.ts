/**
 * npm run soak [-- --jobs N --seed S] — mixed copy and archive jobs through the local cloud under OSS faults,
 * worker and coordinator kills and FC-style re-deliveries (bench/soak/run.ts), every result checked against its
 * source by sha256. Prints progress on stderr, a table on stdout, and last the line
 * `RESULT {"jobs","correct","cleanlyFailed","lost","corrupt","orphanedUploads","overwritten","coordinatorKills","workerKills","lostResponses",
 * "orphanedUploadsBeforeSweep","sweptUploads",…}` (orphanedUploads: still open after the sweep the stack runs on a timer).
 * Exit 1 when a job was lost, corrupted or overwrote something, or an upload was left open.
 */
// --log FILE appends every function instance's log lines to FILE (to find out why a job was not correct).
import { parseArgs } from 'node:util';
import { runSoak } from './soak/run.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '200' }, seed: { type: 'string', default: '1' }, concurrency: { type: 'string', default: '6' }, log: { type: 'string' } } });
const num = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number ≥ ${min}, got "${v}"\n`);
    process.exit(2);
  }
  return n;
};
const jobs = num('jobs', values.jobs, 1);
const seed = num('seed', values.seed, 0);
const concurrency = num('concurrency', values.concurrency, 1);

const r = await runSoak({ jobs, seed, concurrency, ...(values.log ? { instanceLog: values.log } : {}), progress: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`) });

const rows: Array<[string, string | number]> = [
  ['jobs', r.jobs],
  ['correct', r.correct],
  ['cleanly failed', r.cleanlyFailed],
  ['lost', r.lost],
  ['corrupt', r.corrupt],
  ['overwritten', r.overwritten],
  ['open before sweep', r.orphanedUploadsBeforeSweep],
  ['aborted by sweep', r.sweptUploads],
  ['orphaned uploads', r.orphanedUploads],
  ['coordinator kills', r.coordinatorKills],
  ['worker kills', r.workerKills],
  ['lost responses', r.lostResponses],
  ['deliveries', r.deliveries],
  ['source MiB', (r.bytes / 1024 / 1024).toFixed(1)],
  ['seconds', r.seconds],
];
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(20)} ${v}\n`);
for (const [kind, verdicts] of Object.entries(r.byKind)) process.stdout.write(`${kind.padEnd(20)} ${JSON.stringify(verdicts)}\n`);
for (const j of r.notCorrect) {
  process.stdout.write(`not correct: job ${j.index} ${j.kind} ${j.size} B → ${j.destinationKey}${j.preexisting ? ' (destination pre-existing)' : ''}: ${j.verdict}${j.lastError ? ` — ${j.lastError.replace(/\s+/g, ' ').slice(0, 200)}` : ''}\n`);
}
for (const u of r.openBeforeSweep) process.stdout.write(`upload open before the sweep: ${u}\n`);
for (const u of r.orphans) process.stdout.write(`upload left open after the sweep: ${u}\n`);
const { byKind: _byKind, notCorrect: _notCorrect, orphans: _orphans, openBeforeSweep: _open, ...summary } = r;
process.stdout.write(`RESULT ${JSON.stringify(summary)}\n`);
process.exitCode = r.lost + r.corrupt + r.overwritten + r.orphanedUploads === 0 ? 0 : 1;
