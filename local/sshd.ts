/**
 * A real OpenSSH sshd on 127.0.0.1 — the SFTP server of the local cloud (`ossferry start`), the archive bench
 * and the SFTP integration tests (test/helpers/sshd.ts re-exports this module): fresh host and user keys from
 * ssh-keygen, a private sshd_config (internal-sftp, key auth only, no PAM), files written under `root`.
 * `close()` kills every process this module started (the listener and its per-connection children) and
 * removes the temp dir. Needs /usr/sbin/sshd (Debian openssh-server; CI: scripts/system-deps.sh) — check
 * `sshdAvailable()` first where its absence should be skipped rather than fail.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { mkdtemp, mkdir, writeFile, readFile, rm, readdir } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SSHD_PATH = '/usr/sbin/sshd';
const SSHD = SSHD_PATH;

/** Whether OpenSSH's sshd and ssh-keygen can be run here. */
export async function sshdAvailable(): Promise<boolean> {
  try {
    await access(SSHD, constants.X_OK);
    await run('ssh-keygen', ['-?']).catch((e: { code?: unknown }) => {
      // ssh-keygen -? exits 1 after printing usage; only a missing binary (ENOENT) means unavailable.
      if (e.code === 'ENOENT') throw e;
    });
    return true;
  } catch {
    return false;
  }
}

export interface SshdOptions {
  /** Files to create, relative to `root`. */
  files?: Record<string, Buffer | string>;
  /** Offer public-key authentication (default true); false leaves only password auth, for refusal tests. */
  pubkeyAuthentication?: boolean;
  /** sshd LogLevel (default VERBOSE; DEBUG1 logs every userauth request). */
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG1';
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  /** PID of the listening sshd (per-connection sshd processes are its descendants). */
  pid: number;
  user: string;
  /** The user's private key (OpenSSH format). */
  privateKey: string;
  /** Host key fingerprint as `ssh-keygen -lf` prints it: `SHA256:<base64, no padding>`. */
  hostKeyFingerprint: string;
  /** The host public key line (`ssh-ed25519 AAAA…`), for an OpenSSH client's known_hosts. */
  hostPublicKey: string;
  /** Absolute directory holding `files`. */
  root: string;
  /** `sftp://user@127.0.0.1:port<root>/<rel>` for a file under root. */
  urlFor(rel: string): string;
  /** `{"127.0.0.1:port": fingerprint}`: the value of OSSFERRY_SFTP_HOST_KEYS for this server. */
  hostKeys: Record<string, string>;
  /** Everything sshd wrote to stderr so far. */
  log(): string;
  /** SIGKILLs every per-connection sshd process (drops all sessions; the listener keeps accepting). Returns how many. */
  killConnections(): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Direct children of `pid`, from /proc (stat field 4 is the ppid). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // comm may contain spaces/parens: fields after the last ')' are fixed.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid) out.push(Number(name));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

/** All descendants of `pid` (from /proc). */
export async function descendantsOf(pid: number): Promise<number[]> {
  const all: number[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const next: number[] = [];
    for (const p of frontier) next.push(...(await childrenOf(p)));
    all.push(...next);
    frontier = next;
  }
  return all;
}

async function keygen(path: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ossferry-local', '-f', path]);
}

export async function fingerprintOf(pubKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubKeyPath]);
  const fp = stdout.split(' ')[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return fp;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'ossferry-sshd-'));
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await Promise.all([keygen(join(dir, 'host_key')), keygen(join(dir, 'user_key'))]);
  const user = userInfo().username;
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')), { mode: 0o600 });
  for (const [rel, content] of Object.entries(options.files ?? {})) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  const pubkey = options.pubkeyAuthentication ?? true;

  let proc: ChildProcess | undefined;
  let stderr = '';
  let port = 0;
  for (let attempt = 0; attempt < 5 && !proc; attempt++) {
    port = await freePort();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PubkeyAuthentication ${pubkey ? 'yes' : 'no'}`,
      `PasswordAuthentication ${pubkey ? 'no' : 'yes'}`,
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'MaxStartups 100',
      'MaxSessions 64',
      `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
      '',
    ].join('\n');
    const configPath = join(dir, 'sshd_config');
    await writeFile(configPath, config);
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline && !(await portAccepts(port))) await new Promise((r) => setTimeout(r, 25));
    if (!exited && (await portAccepts(port))) proc = child;
    else if (!exited) child.kill('SIGKILL');
  }
  if (!proc) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`sshd did not start: ${stderr}`);
  }
  const sshd = proc;
  const hostKeyFingerprint = await fingerprintOf(join(dir, 'host_key.pub'));

  const killConnections = async (): Promise<number> => {
    const pids = await descendantsOf(sshd.pid!);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return pids.length;
  };

  return {
    host: '127.0.0.1',
    port,
    pid: sshd.pid!,
    user,
    privateKey: await readFile(join(dir, 'user_key'), 'utf8'),
    hostKeyFingerprint,
    hostPublicKey: (await readFile(join(dir, 'host_key.pub'), 'utf8')).trim(),
    hostKeys: { [`127.0.0.1:${port}`]: hostKeyFingerprint },
    root,
    urlFor: (rel) => `sftp://${user}@127.0.0.1:${port}${join(root, rel)}`,
    log: () => stderr,
    killConnections,
    async close() {
      await killConnections();
      if (sshd.exitCode === null && sshd.signalCode === null) {
        const exited = new Promise((r) => sshd.once('exit', r));
        sshd.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
