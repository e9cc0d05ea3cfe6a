import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { connectFailure, knownHostsCommand, opensshArgs, parseOpensshVersion, versionSupported } from '../../functions/sources/sftp/openssh-transport.ts';
import { HostKeyMismatchError, SftpAuthError } from '../../functions/sources/sftp/session.ts';
import { SourceUnavailableError } from '../../functions/sources/types.ts';
import { silentLogger } from '../../shared/log.ts';

const PIN = 'SHA256:gaV4nsK0nttKJnO189z9EXp0YZOsQj+C3IHl/qBjVS4';
const o = {
  address: '10.0.0.7',
  host: 'files.example.com',
  port: 2222,
  user: '-oProxyCommand=evil',
  fingerprint: PIN,
  readyTimeoutMs: 20_000,
  ciphers: ['aes128-gcm@openssh.com', 'aes128-ctr'],
  privateKey: 'k',
  passphrase: undefined,
  log: silentLogger,
};

/** Runs the KnownHostsCommand as ssh would after expanding its tokens, returning [stdout, stderr]. */
function runKnownHosts(pin: string, offered: string): [string, string] {
  const cmd = knownHostsCommand(pin).replace('%f', offered).replace('%H', 'h').replace('%t', 'ssh-ed25519').replace('%K', 'AAAAkey');
  // ssh splits the command like a shell (quotes, no expansion): the same split through sh -c with `set --`.
  const out = execFileSync('/bin/sh', ['-c', `${cmd} 2>&1 1>/dev/null | sed 's/^/ERR:/'; ${cmd} 2>/dev/null`], { encoding: 'utf8' });
  const lines = out.split('\n').filter(Boolean);
  return [lines.filter((l) => !l.startsWith('ERR:')).join('\n'), lines.filter((l) => l.startsWith('ERR:')).map((l) => l.slice(4)).join('\n')];
}

describe('OpenSSH transport: arguments, pin and failures', () => {
  it('vouches for the offered key only when its fingerprint is the pinned one (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/]{43}$/), (b64) => {
        const offered = `SHA256:${b64}`;
        // Act
        const [out, err] = runKnownHosts(PIN, offered);
        // Assess
        if (offered === PIN) expect(out).toBe('h ssh-ed25519 AAAAkey');
        else {
          expect(out).toBe('');
          expect(err).toBe(`ossferry-offered-host-key ${offered}`);
        }
      }),
      { numRuns: 20 },
    );
    expect(runKnownHosts(PIN, PIN)[0]).toBe('h ssh-ed25519 AAAAkey');
    expect(runKnownHosts(PIN, 'NONE')).toEqual(['', '']);
  });

  it('connects to the screened address with everything explicit and the user as one argument', () => {
    // Act
    const args = opensshArgs(o, '/tmp/x/id', true);
    const opts = args.flatMap((a, i) => (args[i - 1] === '-o' ? [a] : []));
    // Assess: no config files, no agent, no forwarding, no password prompts, strict pinning
    expect(args.slice(0, 2)).toEqual(['-F', 'none']);
    expect(args.slice(-4)).toEqual(['-s', '--', '10.0.0.7', 'sftp']);
    expect(args[args.indexOf('-l') + 1]).toBe('-oProxyCommand=evil');
    expect(args[args.indexOf('-p') + 1]).toBe('2222');
    for (const kv of ['BatchMode=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=none', 'GlobalKnownHostsFile=none', 'IdentityAgent=none', 'IdentitiesOnly=yes', 'PasswordAuthentication=no', 'KbdInteractiveAuthentication=no', 'ProxyCommand=none', 'ControlPath=none', 'ClearAllForwardings=yes', 'PermitLocalCommand=no', 'IdentityFile=/tmp/x/id', 'Ciphers=aes128-gcm@openssh.com,aes128-ctr', 'ConnectTimeout=20']) {
      expect(opts).toContain(kv);
    }
    expect(opts.find((kv) => kv.startsWith('KnownHostsCommand='))).toContain(PIN);
    expect(opensshArgs(o, '/tmp/x/id', false)).toContain('BatchMode=no');
  });

  it('reads OpenSSH versions and requires 8.5 (KnownHostsCommand)', () => {
    expect(parseOpensshVersion('OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024')).toEqual([9, 2]);
    expect(parseOpensshVersion('OpenSSH_for_Windows_8.1p1')).toBeUndefined();
    expect(versionSupported([8, 5])).toBe(true);
    expect(versionSupported([8, 4])).toBe(false);
    expect(versionSupported([10, 0])).toBe(true);
  });

  it('names the failure from what ssh printed', () => {
    // Prepare
    const cause = new Error('ssh exited (code 255)');
    // Act
    const mismatch = connectFailure(o, `ossferry-offered-host-key SHA256:${'B'.repeat(43)}\nHost key verification failed.\n`, cause);
    const auth = connectFailure(o, 'root@10.0.0.7: Permission denied (publickey).\n', cause);
    const refused = connectFailure(o, 'ssh: connect to host 10.0.0.7 port 2222: Connection refused\n', cause);
    // Assess
    expect(mismatch).toBeInstanceOf(HostKeyMismatchError);
    expect(mismatch.message).toContain(`presented host key SHA256:${'B'.repeat(43)}, but ${PIN} is pinned`);
    expect(auth).toBeInstanceOf(SftpAuthError);
    expect(refused).toBeInstanceOf(SourceUnavailableError);
    expect(refused.message).toBe('cannot connect to files.example.com:2222: ssh: connect to host 10.0.0.7 port 2222: Connection refused');
  });
});
