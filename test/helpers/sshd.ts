/**
 * The SFTP server of the integration tests: the local cloud's real OpenSSH sshd (local/sshd.ts), one
 * implementation for tests, `ossferry start` and the bench.
 */
export { fingerprintOf, sshdAvailable, startSshd, SSHD_PATH, type Sshd, type SshdOptions } from '../../local/sshd.ts';
