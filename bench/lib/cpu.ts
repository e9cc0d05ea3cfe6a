/**
 * CPU seconds (user + system, from /proc) of this process tree, split by role: the machine is shared and
 * noisy, so CPU per byte is the contention-robust figure that explains a wall-clock result.
 * Exited, waited-for children (the client-side case processes) count through this process's cutime/cstime.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { functionProcesses } from '../../local/procs.ts';

const TICK = 100; // USER_HZ on Linux

interface Proc {
  ppid: number;
  cmd: string;
  cpu: number;
  childCpu: number;
}

function readProcs(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      all.set(Number(d), { ppid: Number(f[1]), cmd, cpu: (Number(f[11]) + Number(f[12])) / TICK, childCpu: (Number(f[13]) + Number(f[14])) / TICK });
    } catch {
      // raced with an exit
    }
  }
  return all;
}

export type CpuSnapshot = Map<string, number>;

/** CPU seconds so far by role: "oss-server", "http-source", "functions", "bench+clients". */
export function cpuSnapshot(): CpuSnapshot {
  const all = readProcs();
  const under = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; hops++) {
      if (p === process.pid) return true;
      p = all.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const out: CpuSnapshot = new Map();
  const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v);
  for (const [pid, p] of all) {
    if (!under(pid)) continue;
    if (pid === process.pid) add('bench+clients', p.cpu + p.childCpu);
    else if (p.cmd.includes('server-process.ts oss')) add('oss-server', p.cpu);
    else if (p.cmd.includes('server-process.ts http-source')) add('http-source', p.cpu);
    else if (p.cmd.includes('functions/main.ts')) add('functions', p.cpu);
    else add('bench+clients', p.cpu);
  }
  return out;
}

/** CPU seconds spent by role between two snapshots (roles that spent nothing measurable are left out). */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0.005) out[k] = +d.toFixed(2);
  }
  return out;
}

/**
 * CPU seconds so far of this process's function instances of one role (OSSFERRY_ROLE, e.g. "worker"): the
 * figure bench:copy puts per GiB beside the relay floor's. Instances stay warm between rounds, so deltas of
 * this sum cover a whole job.
 */
export function functionRoleCpuSeconds(role: string): number {
  let total = 0;
  for (const p of functionProcesses(role)) {
    try {
      const st = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / TICK;
    } catch {
      // ended while we looked
    }
  }
  return total;
}
