/**
 * A live progress display for a running job: a cli-progress bar on a TTY, a line every 2 s otherwise (CI
 * logs). Fed with JobProgress snapshots (status object + ListParts); the rate is the one over the last few
 * seconds (shared/progress-rate.ts) and the ETA comes from it, so a pause or a slow start does not linger.
 * Archive jobs show both sides: input bytes of finished tasks and compressed bytes OSS holds.
 */
import cliProgress from 'cli-progress';
import type { JobProgress } from '../functions/status/progress.ts';
import { progressRate, pushSample, windowedRate, type ProgressSample } from '../shared/progress-rate.ts';
import { formatBytes } from './args.ts';

export interface ProgressDisplay {
  update(p: JobProgress): void;
  stop(): void;
}

/** A line is written at most this often without a TTY. */
const LINE_EVERY_MS = 2_000;

const mbps = (bytesPerSecond: number | undefined) => (bytesPerSecond === undefined ? '--' : (bytesPerSecond / 1e6).toFixed(1));

/** The figures of one update: done/total, windowed MB/s, the job-kind detail and the ETA. */
export interface ProgressFigures {
  percent: string;
  done: string;
  all: string;
  mbps: string;
  extra: string;
  etaText: string;
}

/** Tracks samples across updates and turns a snapshot into display figures. `now` is injectable for tests. */
export function progressFigures(now: () => number = Date.now): (p: JobProgress) => ProgressFigures {
  let input: ProgressSample[] = [];
  let stored: ProgressSample[] = [];
  return (p) => {
    const at = now();
    input = pushSample(input, { atMs: at, done: p.bytes });
    const { rate, etaSeconds } = progressRate(input, p.size);
    let extra = `parts ${p.parts}/${p.partCount}`;
    if (p.archive) {
      stored = pushSample(stored, { atMs: at, done: p.archive.compressedBytesStored });
      extra = `gzip ${formatBytes(p.archive.compressedBytesStored)} stored (${mbps(windowedRate(stored))} MB/s), tasks ${p.archive.tasksDone}/${p.archive.tasks}`;
    }
    return {
      percent: p.size > 0 ? ((p.bytes / p.size) * 100).toFixed(1) : '100.0',
      done: formatBytes(p.bytes),
      all: formatBytes(p.size),
      mbps: mbps(rate),
      extra,
      etaText: etaSeconds === undefined ? '--' : `${Math.ceil(etaSeconds)}s`,
    };
  };
}

export function progressDisplay(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): ProgressDisplay {
  const figures = progressFigures(now);
  let lastLine = -Infinity;
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(p) {
      const f = figures(p);
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
          bar.start(Math.max(p.size, 1), 0, f);
        }
        bar.update(p.bytes, f);
      } else if (now() - lastLine >= LINE_EVERY_MS) {
        lastLine = now();
        stream.write(`progress ${f.percent}% ${f.done} / ${f.all} ${f.mbps} MB/s ${f.extra} ETA ${f.etaText}\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
