/**
 * npm run bench:model — the time/cost model (shared/model) against the published FC fan-out table, then
 * ossferry's own prediction for the same four files. Pure computation: no servers, no network, a second of CPU.
 *
 * 1. Calibration: the model with the reference's parameters (100 instances, one part and one 13 MB/s connection
 *    each; one instance for the other column) against each published time; within 25 % counts as reproduced,
 *    "> 600 s" as a lower bound. Start-up and connection ramp are the model's defaults, fitted to the
 *    100-instance column (the fit is recomputed here and must equal them); the scan without a ramp shows that
 *    no constant start-up alone fits the table.
 * 2. Prediction: ossferry's default config (workers auto, 8 streams, 2 vCPU / 4 GB, auto part size) in a
 *    20 Gbit/s region (cn-hangzhou) with the same source (13 MB/s per connection). Target: 14.68 GB in ≤ 7 s.
 * 3. Sensitivity: other configs and the start-up each could afford within 7 s.
 * Last line: RESULT {json}.
 */
import { bestUniformStartup, CALIBRATION_TOLERANCE, calibrationRows, fitStartupAndRamp, REFERENCE_FIGURES, REFERENCE_PARAMS } from '../shared/model/calibration.ts';
import { formatRate, MODEL_DEFAULTS, predict, type ModelInput } from '../shared/model/index.ts';
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
const fit = fitStartupAndRamp();
const fitIsDefault = fit.startupSeconds === MODEL_DEFAULTS.startupSeconds && fit.connectionRampSeconds === MODEL_DEFAULTS.connectionRampSeconds;
console.log(
  `Fit to the published 100-instance column (grid, worst relative error minimised): start-up ${fit.startupSeconds} s, connection ramp ${fit.connectionRampSeconds} s, worst error ${(fit.worstError * 100).toFixed(1)} %` +
    (fitIsDefault ? ' (the model\'s defaults)\n' : ` — NOT the model's defaults (${MODEL_DEFAULTS.startupSeconds} s, ${MODEL_DEFAULTS.connectionRampSeconds} s)\n`),
);
const calibration = calibrationRows();
console.log(`Calibration: the model with the reference's parameters (${REFERENCE_PARAMS.instances} instances, one part and one ${formatRate(REFERENCE_PARAMS.connectionBytesPerSecond)} connection each; start-up ${MODEL_DEFAULTS.startupSeconds} s, ramp ${MODEL_DEFAULTS.connectionRampSeconds} s)\n`);
table(
  ['file', 'instances', 'published', 'model', 'error', `within ${CALIBRATION_TOLERANCE * 100} %`],
  calibration.map((r) => [r.label, String(r.instances), `${r.lowerBound ? '> ' : ''}${r.publishedSeconds} s`, `${r.modelSeconds.toFixed(2)} s`, r.lowerBound ? (r.error === 0 ? 'above bound' : pct(r.error)) : pct(r.error), r.withinTolerance ? 'yes' : 'NO']),
);
const best = bestUniformStartup();
const failed = calibration.filter((r) => !r.withinTolerance).map((r) => `${r.label} @ ${r.instances}`);
if (failed.length > 0) console.log(`Not reproduced: ${failed.join(', ')}.\n`);
console.log(`Without the ramp (full rate from the first byte) the best constant start-up is ${best.startupSeconds} s and its worst 100-instance figure is off by ${(best.worstError * 100).toFixed(0)} %:`);
console.log('the per-instance rate grows with the run\'s length (2 GB ≈ 5 MB/s per instance, 14.68 GB ≈ 10.5), as connections that ramp up give.\n');

// 2. ossferry's prediction, default config
const defaults = (size: number, extra: Partial<ModelInput> = {}): ModelInput => ({ size, sourceKind: 'http', region: REGION, ...extra });
const prediction = REFERENCE_FIGURES.map((f) => {
  const p = predict(defaults(f.size));
  return { f, p };
});
const d0 = prediction[0]!.p.params;
console.log(
  `ossferry, default config in ${REGION} (${d0.accountGbps} Gbit/s OSS upload): workers ${d0.workers} (at most ${d0.instanceQuota - 1}) × ${d0.streamsPerWorker} streams, ${d0.workerVcpu} vCPU / ${d0.workerMemoryGb} GB (${d0.instanceGbps} Gbit/s each), ` +
    `part size ${d0.partSize}, source ${formatRate(d0.connectionBytesPerSecond)} per connection, start-up ${d0.startupSeconds} s, ramp ${d0.connectionRampSeconds} s\n`,
);
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
  ['default (workers auto × 8, 2 vCPU)', {}],
  ['16 workers × 8 streams (the old default)', { workers: 16 }],
  ['16 workers × 16 streams', { workers: 16, streamsPerWorker: 16 }],
  ['32 workers × 8 streams', { workers: 32 }],
  ['48 workers × 8 streams', { workers: 48 }],
  ['auto, 64 MiB parts (transfer.partSizeMb 64)', { partSize: 64 * UNITS.MB }],
  ['32 workers, 64 MiB parts (Pulumi.prod.yaml)', { workers: 32, partSize: 64 * UNITS.MB }],
  ['auto, no connection ramp', { connectionRampSeconds: 0 }],
];
const sensitivity = configs.map(([name, extra]) => {
  const p = predict(defaults(TARGET.size, extra));
  const allowed = TARGET.seconds - p.time.transferSeconds - p.time.finishSeconds;
  return { name, p, allowed };
});
console.log(`Sensitivity: ${TARGET.label} with other configs (same source, ${REGION}), and the start-up each leaves for ≤ ${TARGET.seconds} s:\n`);
table(
  ['config', 'workers', 'connections', 'limited by', 'transfer', `predicted (start-up ${d0.startupSeconds} s)`, 'start-up that meets 7 s'],
  sensitivity.map(({ name, p, allowed }) => [name, String(p.time.workers), String(p.time.connections), p.time.bottleneck, `${p.time.transferSeconds.toFixed(2)} s`, `${p.time.seconds.toFixed(2)} s`, allowed > 0 ? `≤ ${allowed.toFixed(2)} s` : 'none']),
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
      fit: { startupSeconds: fit.startupSeconds, connectionRampSeconds: fit.connectionRampSeconds, worstError: Math.round(fit.worstError * 1000) / 1000, isDefault: fitIsDefault },
      bestUniformStartupWithoutRamp: { seconds: best.startupSeconds, worstError: Math.round(best.worstError * 1000) / 1000 },
      prediction: {
        region: REGION,
        accountGbps: d0.accountGbps,
        config: { workers: d0.workers, partSize: d0.partSize, streamsPerWorker: d0.streamsPerWorker, workerVcpu: d0.workerVcpu, workerMemoryGb: d0.workerMemoryGb, connectionBytesPerSecond: d0.connectionBytesPerSecond, startupSeconds: d0.startupSeconds, connectionRampSeconds: d0.connectionRampSeconds },
        rows: prediction.map(({ f, p }) => ({ file: f.label, parts: p.time.plan.parts.length, partSize: p.time.plan.partSize, workers: p.time.workers, connections: p.time.connections, bottleneck: p.time.bottleneck, floorSeconds: r2(p.time.floorSeconds), seconds: r2(p.time.seconds), usd: Math.round(p.cost.totalUsd * 1e4) / 1e4, computeUsd: Math.round(p.cost.computeUsd * 1e6) / 1e6 })),
      },
      target: { file: TARGET.label, maxSeconds: TARGET.seconds, floorSeconds: r2(t.time.floorSeconds), predictedSeconds: r2(t.time.seconds), met },
      sensitivity: sensitivity.map(({ name, p, allowed }) => ({ config: name, workers: p.time.workers, transferSeconds: r2(p.time.transferSeconds), seconds: r2(p.time.seconds), startupForTarget: allowed > 0 ? r2(allowed) : null })),
    }),
);
