/**
 * npm run bench:model — the time/cost model (shared/model) against the published FC fan-out table, then
 * ossferry's own prediction for the same four files. Pure computation: no servers, no network, a second of CPU.
 *
 * 1. Calibration: the model with the reference's parameters (100 instances, one part and one 13 MB/s connection
 *    each; one instance for the other column) against each published time; within 25 % counts as reproduced,
 *    "> 600 s" as a lower bound. The start-up default is the intercept of the two largest runs, so the scan
 *    below shows whether any constant start-up could fit the whole table.
 * 2. Prediction: ossferry's default config (16 workers × 8 streams, 2 vCPU / 4 GB, auto part size) in a
 *    20 Gbit/s region (cn-hangzhou) with the same source (13 MB/s per connection). Target: 14.68 GB in ≤ 7 s.
 * 3. What would meet the target: a few configs and the start-up each could afford.
 * Last line: RESULT {json}.
 */
import { bestUniformStartup, CALIBRATION_TOLERANCE, calibrationRows, REFERENCE_FIGURES, REFERENCE_PARAMS } from '../shared/model/calibration.ts';
import { formatRate, predict, type ModelInput } from '../shared/model/index.ts';
import { UNITS } from '../shared/limits.ts';

const TARGET = { label: '14.68 GB', size: 14.68e9, seconds: 7 };
const REGION = 'cn-hangzhou';

function table(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  console.log(line(head));
  console.log('  ' + w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
}

const pct = (e: number) => `${e >= 0 ? '+' : ''}${(e * 100).toFixed(1)} %`;
const r2 = (n: number) => Math.round(n * 100) / 100;

// 1. Calibration
const calibration = calibrationRows();
console.log(`Calibration: the model with the reference's parameters (${REFERENCE_PARAMS.instances} instances, one part and one ${formatRate(REFERENCE_PARAMS.connectionBytesPerSecond)} connection each)\n`);
table(
  ['file', 'instances', 'published', 'model', 'error', `within ${CALIBRATION_TOLERANCE * 100} %`],
  calibration.map((r) => [r.label, String(r.instances), `${r.lowerBound ? '> ' : ''}${r.publishedSeconds} s`, `${r.modelSeconds.toFixed(2)} s`, r.lowerBound ? (r.error === 0 ? 'above bound' : pct(r.error)) : pct(r.error), r.withinTolerance ? 'yes' : 'NO']),
);
const best = bestUniformStartup();
const failed = calibration.filter((r) => !r.withinTolerance).map((r) => `${r.label} @ ${r.instances}`);
if (failed.length > 0) {
  console.log(`Not reproduced: ${failed.join(', ')}. At 13 MB/s per instance the published runs grow by 100 × 13 MB/s from 10.774 GB`);
  console.log('to 14.68 GB with a 2.7 s intercept, while 200 MB finished in 1 s: no constant start-up fits both. The best single');
  console.log(`start-up over the 100-instance column is ${best.startupSeconds} s, and even then the worst figure is off by ${(best.worstError * 100).toFixed(0)} %.\n`);
}

// 2. ossferry's prediction, default config
const defaults = (size: number, extra: Partial<ModelInput> = {}): ModelInput => ({ size, sourceKind: 'http', region: REGION, ...extra });
const prediction = REFERENCE_FIGURES.map((f) => {
  const p = predict(defaults(f.size));
  return { f, p };
});
const d0 = prediction[0]!.p.params;
console.log(`ossferry, default config in ${REGION} (${d0.accountGbps} Gbit/s OSS upload): ${d0.workers} workers × ${d0.streamsPerWorker} streams, ${d0.workerVcpu} vCPU / ${d0.workerMemoryGb} GB (${d0.instanceGbps} Gbit/s each), source ${formatRate(d0.connectionBytesPerSecond)} per connection, start-up ${d0.startupSeconds} s\n`);
table(
  ['file', 'parts', 'workers', 'connections', 'limited by', 'floor', 'predicted', 'published', 'compute', 'egress', 'total'],
  prediction.map(({ f, p }) => [
    f.label,
    `${p.time.plan.parts.length} × ${(p.time.plan.partSize / UNITS.MB).toFixed(0)} MiB`,
    String(p.time.workers),
    String(p.time.connections),
    p.time.bottleneck,
    `${p.time.floorSeconds.toFixed(2)} s`,
    `${p.time.seconds.toFixed(2)} s`,
    `${f.fanOutSeconds} s`,
    `$${p.cost.computeUsd.toFixed(5)}`,
    `$${p.cost.egressUsd.toFixed(3)}`,
    `$${p.cost.totalUsd.toFixed(3)}`,
  ]),
);
const t = prediction.find(({ f }) => f.size === TARGET.size)!.p;
const met = t.time.seconds <= TARGET.seconds;
console.log(`Target: ${TARGET.label} in ≤ ${TARGET.seconds} s (floor ${t.time.floorSeconds.toFixed(2)} s). Predicted ${t.time.seconds.toFixed(2)} s: ${met ? 'met' : 'NOT met'}.\n`);

// 3. What would meet it
const configs: Array<[string, Partial<ModelInput>]> = [
  ['default (16 × 8, 2 vCPU)', {}],
  ['16 workers × 16 streams', { streamsPerWorker: 16 }],
  ['32 workers × 8 streams', { workers: 32 }],
  ['24 workers × 8 streams, 4 vCPU / 8 GB', { workers: 24, workerVcpu: 4, workerMemoryGb: 8 }],
];
const sensitivity = configs.map(([name, extra]) => {
  const p = predict(defaults(TARGET.size, extra));
  const allowed = TARGET.seconds - p.time.transferSeconds - p.time.finishSeconds;
  return { name, p, allowed };
});
console.log(`What ${TARGET.label} in ≤ ${TARGET.seconds} s needs (same source, ${REGION}):\n`);
table(
  ['config', 'connections', 'limited by', 'transfer', `predicted (start-up ${d0.startupSeconds} s)`, 'start-up that meets 7 s'],
  sensitivity.map(({ name, p, allowed }) => [name, String(p.time.connections), p.time.bottleneck, `${p.time.transferSeconds.toFixed(2)} s`, `${p.time.seconds.toFixed(2)} s`, allowed > 0 ? `≤ ${allowed.toFixed(2)} s` : 'none']),
);

console.log(
  'RESULT ' +
    JSON.stringify({
      bench: 'model',
      tolerance: CALIBRATION_TOLERANCE,
      calibration: calibration.map((r) => ({ file: r.label, instances: r.instances, publishedSeconds: r.publishedSeconds, lowerBound: r.lowerBound, modelSeconds: r2(r.modelSeconds), error: Math.round(r.error * 1000) / 1000, within: r.withinTolerance })),
      calibrationErrors: Object.fromEntries(calibration.map((r) => [`${r.label}@${r.instances}`, Math.round(r.error * 1000) / 1000])),
      reproduced: calibration.filter((r) => r.withinTolerance).length,
      notReproduced: failed,
      bestUniformStartup: { seconds: best.startupSeconds, worstError: Math.round(best.worstError * 1000) / 1000 },
      prediction: {
        region: REGION,
        accountGbps: d0.accountGbps,
        config: { workers: d0.workers, streamsPerWorker: d0.streamsPerWorker, workerVcpu: d0.workerVcpu, workerMemoryGb: d0.workerMemoryGb, connectionBytesPerSecond: d0.connectionBytesPerSecond, startupSeconds: d0.startupSeconds },
        rows: prediction.map(({ f, p }) => ({ file: f.label, parts: p.time.plan.parts.length, partSize: p.time.plan.partSize, workers: p.time.workers, connections: p.time.connections, bottleneck: p.time.bottleneck, floorSeconds: r2(p.time.floorSeconds), seconds: r2(p.time.seconds), usd: Math.round(p.cost.totalUsd * 1e4) / 1e4, computeUsd: Math.round(p.cost.computeUsd * 1e6) / 1e6 })),
      },
      target: { file: TARGET.label, maxSeconds: TARGET.seconds, floorSeconds: r2(t.time.floorSeconds), predictedSeconds: r2(t.time.seconds), met },
      sensitivity: sensitivity.map(({ name, p, allowed }) => ({ config: name, transferSeconds: r2(p.time.transferSeconds), seconds: r2(p.time.seconds), startupForTarget: allowed > 0 ? r2(allowed) : null })),
    }),
);
