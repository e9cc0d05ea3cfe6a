/**
 * PIDs of this process's `ssh` children (the SFTP source's OpenSSH transport) connected to `port`. Test files
 * may share one process, each with its own sshd: the port tells whose processes they are.
 */
import { readdir, readFile } from 'node:fs/promises';

export async function sshChildPids(port: number): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm !== 'ssh' || ppid !== process.pid) continue;
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (argv[argv.indexOf('-p') + 1] === String(port)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
