/** sftpHostKeyFingerprint in the job spec: format, sftp-only, carried into the typed job and the task schema. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseJob, SFTP_FINGERPRINT_RE } from '../../shared/job.ts';
import { parseTask, taskToWire } from '../../shared/task.ts';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const fingerprint = fc.array(fc.constantFrom(...B64.split('')), { minLength: 43, maxLength: 43 }).map((a) => `SHA256:${a.join('')}`);

describe('job sftpHostKeyFingerprint', () => {
  it('accepts every SHA256:<43 base64> value on an sftp:// source and keeps it on the job', () => {
    fc.assert(
      fc.property(fingerprint, (fp) => {
        // Act
        const job = parseJob({ source: 'sftp://u@127.0.0.1:2222/data/a.log', destination: 'oss://bkt/k', mode: 'archive', sftpHostKeyFingerprint: fp });
        // Assess
        expect(job.sftpHostKeyFingerprint).toBe(fp);
      }),
    );
  });

  const bad = ['SHA256:short', 'MD5:' + 'a'.repeat(43), 'SHA256:' + 'A'.repeat(42) + '=', 'sha256:' + 'A'.repeat(43), 'SHA256:' + 'A'.repeat(44), ''];
  for (const value of bad) {
    it(`refuses ${JSON.stringify(value)} naming the field and the fix`, () => {
      // Act
      const act = () => parseJob({ source: 'sftp://u@h/p', destination: 'oss://bkt/k', sftpHostKeyFingerprint: value });
      // Assess
      expect(act).toThrow(InvalidInputError);
      expect(act).toThrow(/^sftpHostKeyFingerprint: .*Fix: .*ssh-keygen -lf/);
    });
  }

  it('refuses a pin on a non-sftp source', () => {
    // Act
    const act = () => parseJob({ source: 'https://example.com/a', destination: 'oss://bkt/k', sftpHostKeyFingerprint: 'SHA256:' + 'A'.repeat(43) });
    // Assess
    expect(act).toThrow(/^sftpHostKeyFingerprint: only applies to sftp:\/\/ sources/);
  });

  it('round-trips through the copy task wire form and rejects a malformed task pin', () => {
    // Prepare
    const fp = 'SHA256:' + 'x'.repeat(43);
    const wire = taskToWire({ mode: 'copy', jobId: 'j1', uploadId: 'u1', destination: { bucket: 'b1', key: 'k' }, source: { url: 'sftp://u@h/p', identity: { size: 10, mtimeMs: 1 }, hostKeyFingerprint: fp }, parts: [{ partNumber: 1, start: 0, end: 10 }], streams: 1 });
    // Act
    const task = parseTask(JSON.parse(JSON.stringify(wire)));
    const act = () => parseTask({ ...wire, source: { ...wire.source, hostKeyFingerprint: 'nope' } });
    // Assess
    expect(task.source.hostKeyFingerprint).toBe(fp);
    expect(act).toThrow(/task\.source\.hostKeyFingerprint/);
    expect(SFTP_FINGERPRINT_RE.test(fp)).toBe(true);
  });
});
