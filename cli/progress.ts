/**
 * A live progress display for a running job: a cli-progress bar on a TTY (bytes, MB/s, parts, ETA), a line
 * every few seconds otherwise (CI logs). Fed with JobProgress snapshots (status object + ListParts).
 */
import cliProgress from 'cli-progress';
import type { LocalJobProgress } from '../local/cloud.ts';
import { formatBytes } from './args.ts';

export interface ProgressDisplay {
  update(p: LocalJobProgress): void;
  stop(): void;
}

export function progressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  const started = Date.now();
  let lastLine = 0;
  let bar: cliProgress.SingleBar | undefined;
  const rate = (bytes: number) => bytes / 1e6 / Math.max((Date.now() - started) / 1000, 0.001);
  const eta = (p: LocalJobProgress) => {
    const r = rate(p.bytes);
    return r > 0 && p.bytes > 0 ? Math.max(0, Math.round((p.size - p.bytes) / 1e6 / r)) : NaN;
  };
  return {
    update(p) {
      const payload = {
        done: formatBytes(p.bytes),
        all: formatBytes(p.size),
        mbps: rate(p.bytes).toFixed(0),
        parts: p.parts,
        partCount: p.partCount,
        etaText: Number.isNaN(eta(p)) ? '--' : `${eta(p)}s`,
        // Archive jobs: the input counts when a task is verified; the gzip bytes land part by part.
        extra: p.archive ? `gzip ${formatBytes(p.archive.compressedBytes)} uploaded` : `parts ${p.parts}/${p.partCount}`,
      };
      if (stream.isTTY) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: ' {bar} {percentage}% | {done} / {all} | {mbps} MB/s | {extra} | ETA {etaText}',
              hideCursor: true,
              barsize: 30,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(p.size, 1), 0, payload);
        }
        bar.update(p.bytes, payload);
      } else if (Date.now() - lastLine > 2000) {
        lastLine = Date.now();
        const pct = p.size > 0 ? ((p.bytes / p.size) * 100).toFixed(1) : '100.0';
        stream.write(`progress ${pct}% ${payload.done} / ${payload.all} ${payload.mbps} MB/s ${payload.extra} ETA ${payload.etaText}\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
