/**
 * The function instances the local FC gateway runs as child processes of this process (Linux /proc): their
 * role, current and peak RSS. Used by tests and benchmarks to report per-worker memory and to kill an
 * instance mid-part (fault tests).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface FunctionProcess {
  pid: number;
  role: string;
  rssBytes: number;
  /** VmHWM: the process's peak resident set size. */
  peakRssBytes: number;
}

function statusField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Child processes of `parentPid` that carry OSSFERRY_ROLE in their environment. */
export function functionProcesses(role?: string, parentPid: number = process.pid): FunctionProcess[] {
  const out: FunctionProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parentPid) continue;
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      const r = env.find((e) => e.startsWith('OSSFERRY_ROLE='))?.slice('OSSFERRY_ROLE='.length);
      if (r === undefined || (role !== undefined && r !== role)) continue;
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      out.push({ pid: Number(name), role: r, rssBytes: statusField(status, 'VmRSS'), peakRssBytes: statusField(status, 'VmHWM') });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/**
 * Samples peak RSS of function processes every `intervalMs` (a process's VmHWM is lost when it exits, so
 * sample while they run). `stop()` returns the highest peak seen per pid.
 */
export function sampleFunctionRss(role: string, intervalMs = 250): { stop(): Map<number, number> } {
  const peaks = new Map<number, number>();
  const take = () => {
    for (const p of functionProcesses(role)) peaks.set(p.pid, Math.max(peaks.get(p.pid) ?? 0, p.peakRssBytes));
  };
  const timer = setInterval(take, intervalMs);
  take();
  return {
    stop() {
      clearInterval(timer);
      take();
      return peaks;
    },
  };
}
