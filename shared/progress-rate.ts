/**
 * Transfer rate over the last few seconds and the ETA it implies, from timestamped "bytes done" samples.
 * An average since the start lies after a pause or a slow start ("3 MB/s, ETA 402 s" for a 9 s job); a
 * window follows what the job does now. Pure: callers keep the samples (pushSample) and ask for the figures.
 */

/** One observation: `done` bytes were finished at `atMs` (epoch or monotonic milliseconds). */
export interface ProgressSample {
  atMs: number;
  done: number;
}

/** How far back the rate looks. */
export const RATE_WINDOW_MS = 5_000;

/**
 * Appends `s` and drops samples the window no longer needs: all inside the window plus the newest one
 * before it (the window's base). A sample older than the newest kept one is ignored (out of order).
 */
export function pushSample(samples: readonly ProgressSample[], s: ProgressSample, windowMs: number = RATE_WINDOW_MS): ProgressSample[] {
  const last = samples.at(-1);
  if (last && s.atMs < last.atMs) return [...samples];
  const all = [...samples, s];
  const from = s.atMs - windowMs;
  let base = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.atMs <= from) base = i;
  return all.slice(base);
}

/**
 * Bytes per second between the newest sample and the window's base (the newest sample at least `windowMs`
 * older, else the oldest). Undefined with fewer than two samples or no time between them. Never negative:
 * bytes done going down (a part uploaded again) counts as no progress.
 */
export function windowedRate(samples: readonly ProgressSample[], windowMs: number = RATE_WINDOW_MS): number | undefined {
  const last = samples.at(-1);
  if (!last) return undefined;
  const from = last.atMs - windowMs;
  let base = samples[0]!;
  for (const x of samples) if (x.atMs <= from) base = x;
  const seconds = (last.atMs - base.atMs) / 1000;
  if (!(seconds > 0)) return undefined;
  return Math.max(0, (last.done - base.done) / seconds);
}

/** Seconds left at `rate` for `remaining` bytes; undefined when there is no rate to go by (none, zero). */
export function etaSeconds(remaining: number, rate: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (rate === undefined || !(rate > 0) || !Number.isFinite(rate)) return undefined;
  return remaining / rate;
}

/** The windowed rate of `samples` and the ETA for `total` bytes from it. */
export function progressRate(samples: readonly ProgressSample[], total: number, windowMs: number = RATE_WINDOW_MS): { rate?: number; etaSeconds?: number } {
  const rate = windowedRate(samples, windowMs);
  const last = samples.at(-1);
  const eta = last ? etaSeconds(total - last.done, rate) : undefined;
  return { ...(rate !== undefined ? { rate } : {}), ...(eta !== undefined ? { etaSeconds: eta } : {}) };
}
