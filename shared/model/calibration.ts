/**
 * Calibration against the published FC fan-out: one function fanning a URL → OSS copy out to 100 FC instances
 * copied 200 MB / 2 GB / 10.774 GB / 14.68 GB in 1 / 4 / 11 / 14 s; one instance took 15 s / 155 s / > 600 s /
 * > 600 s (about 13 MB/s per instance). Sizes are decimal (10^6, 10^9 bytes); times are whole seconds.
 *
 * The reference's own parameters: 100 instances (plus the invoking function, started together), one part per
 * instance, one connection per instance at 13 MB/s, and the model's default start-up and connection ramp.
 * Those two defaults are fitted to the 100-instance column (fitStartupAndRamp), so that column checks the fit
 * (four figures, two parameters) and the one-instance column is out of sample.
 */
import { UNITS } from '../limits.ts';
import { predict, type Prediction } from './index.ts';
import type { ModelInput } from './params.ts';

export interface ReferenceFigure {
  label: string;
  size: number;
  /** Published seconds with 100 instances. */
  fanOutSeconds: number;
  /** Published seconds with one instance; `lowerBound` when the table says "> 600 s". */
  oneInstance: { seconds: number; lowerBound: boolean };
}

export const REFERENCE_FIGURES: readonly ReferenceFigure[] = Object.freeze([
  { label: '200 MB', size: 200e6, fanOutSeconds: 1, oneInstance: { seconds: 15, lowerBound: false } },
  { label: '2 GB', size: 2e9, fanOutSeconds: 4, oneInstance: { seconds: 155, lowerBound: false } },
  { label: '10.774 GB', size: 10.774e9, fanOutSeconds: 11, oneInstance: { seconds: 600, lowerBound: true } },
  { label: '14.68 GB', size: 14.68e9, fanOutSeconds: 14, oneInstance: { seconds: 600, lowerBound: true } },
]);

export const REFERENCE_PARAMS = Object.freeze({ instances: 100, connectionBytesPerSecond: 13e6 });

/** Model input with the reference's parameters: `instances` workers, one part and one connection each. */
export function referenceInput(size: number, instances: number, overrides: Partial<ModelInput> = {}): ModelInput {
  return {
    size,
    sourceKind: 'http',
    workers: instances,
    instanceQuota: instances + 1,
    burstInstances: instances + 1,
    streamsPerWorker: 1,
    partSize: Math.min(5 * UNITS.GB, Math.ceil(size / instances)),
    connectionBytesPerSecond: REFERENCE_PARAMS.connectionBytesPerSecond,
    // Request latency and finishing are inside the published runs' start-up.
    requestLatencySeconds: 0,
    finishSeconds: 0,
    ...overrides,
  };
}

export interface CalibrationRow {
  label: string;
  instances: number;
  publishedSeconds: number;
  lowerBound: boolean;
  modelSeconds: number;
  /** (model − published) ÷ published; for a lower bound, 0 when the model is above it. */
  error: number;
  withinTolerance: boolean;
  prediction: Prediction;
}

export const CALIBRATION_TOLERANCE = 0.25;

export function calibrationRows(overrides: Partial<ModelInput> = {}): CalibrationRow[] {
  const rows: CalibrationRow[] = [];
  for (const [instances, pick] of [
    [REFERENCE_PARAMS.instances, (f: ReferenceFigure) => ({ seconds: f.fanOutSeconds, lowerBound: false })],
    [1, (f: ReferenceFigure) => f.oneInstance],
  ] as const) {
    for (const f of REFERENCE_FIGURES) {
      const published = pick(f);
      const prediction = predict(referenceInput(f.size, instances, overrides));
      const modelSeconds = prediction.time.seconds;
      const error = published.lowerBound ? Math.min(0, (modelSeconds - published.seconds) / published.seconds) : (modelSeconds - published.seconds) / published.seconds;
      rows.push({ label: f.label, instances, publishedSeconds: published.seconds, lowerBound: published.lowerBound, modelSeconds, error, withinTolerance: Math.abs(error) <= CALIBRATION_TOLERANCE, prediction });
    }
  }
  return rows;
}

/** Worst |relative error| over the published 100-instance column with these overrides. */
export function worstFanOutError(overrides: Partial<ModelInput>): number {
  const rows = calibrationRows(overrides).filter((r) => r.instances === REFERENCE_PARAMS.instances);
  return Math.max(...rows.map((r) => Math.abs(r.error)));
}

const hundredths = (n: number) => Math.round(n * 100) / 100;

/**
 * The start-up (0..maxSeconds, 0.01 s steps) whose worst relative error over the fan-out rows is smallest,
 * with connections at full rate from their first byte (no ramp): shows that NO constant start-up fits the
 * whole table at 13 MB/s per instance, which is why the model has a connection ramp.
 */
export function bestUniformStartup(maxSeconds = 5): { startupSeconds: number; worstError: number } {
  let best = { startupSeconds: 0, worstError: Infinity };
  for (let s = 0; s <= maxSeconds + 1e-9; s += 0.01) {
    const startupSeconds = hundredths(s);
    const worst = worstFanOutError({ startupSeconds, connectionRampSeconds: 0 });
    if (worst < best.worstError) best = { startupSeconds, worstError: worst };
  }
  return best;
}

export interface RampFit {
  startupSeconds: number;
  connectionRampSeconds: number;
  /** Worst |relative error| over the 100-instance column. */
  worstError: number;
}

/**
 * (startupSeconds, connectionRampSeconds) minimising the worst relative error over the published 100-instance
 * column: a grid over 0..maxStartup × 0..maxRamp in `coarse` steps, then 0.01 s steps within one coarse step
 * of the best. Deterministic (ties keep the first, smallest values).
 */
export function fitStartupAndRamp(maxStartup = 3, maxRamp = 10, coarse = 0.1): RampFit {
  let best: RampFit = { startupSeconds: 0, connectionRampSeconds: 0, worstError: Infinity };
  const scan = (s0: number, s1: number, r0: number, r1: number, step: number) => {
    for (let s = Math.max(0, s0); s <= s1 + 1e-9; s += step) {
      for (let r = Math.max(0, r0); r <= r1 + 1e-9; r += step) {
        const startupSeconds = hundredths(s);
        const connectionRampSeconds = hundredths(r);
        const worstError = worstFanOutError({ startupSeconds, connectionRampSeconds });
        if (worstError < best.worstError) best = { startupSeconds, connectionRampSeconds, worstError };
      }
    }
  };
  scan(0, maxStartup, 0, maxRamp, coarse);
  const c = best;
  scan(c.startupSeconds - coarse, Math.min(maxStartup, c.startupSeconds + coarse), c.connectionRampSeconds - coarse, Math.min(maxRamp, c.connectionRampSeconds + coarse), 0.01);
  return best;
}
