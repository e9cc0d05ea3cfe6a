/**
 * Summaries of repeated benchmark rounds. The machines are shared and noisy, so benchmarks alternate their cases
 * over several rounds and report the median round and the spread of same-round ratios.
 */

/** The median element by `key` (the lower middle one for an even count). */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  if (xs.length === 0) throw new RangeError('medianBy: no rounds');
  const sorted = [...xs].sort((x, y) => key(x) - key(y));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** "min–max" of same-round ratios, two decimals. */
export function ratioRange(ratios: readonly number[]): string {
  return `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
}
