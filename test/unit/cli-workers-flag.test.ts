import { describe, expect, it } from 'vitest';
import { jobSpecFromFlags } from '../../cli/args.ts';
import { parseJob } from '../../shared/job.ts';

const src = 'https://files.example.com/big.bin';
const dst = 'oss://dst-bucket/big.bin';

describe('ossferry copy --workers', () => {
  it('passes "auto" and whole numbers to the job, and leaves the job default ("auto") when absent', () => {
    // Act
    const auto = parseJob(jobSpecFromFlags(src, dst, { workers: 'auto' }));
    const fixed = parseJob(jobSpecFromFlags(src, dst, { workers: '32' }));
    const none = parseJob(jobSpecFromFlags(src, dst, {}));
    // Assess
    expect(auto.workers).toBe('auto');
    expect(fixed.workers).toBe(32);
    expect(none.workers).toBe('auto');
  });

  it('refuses anything else, naming the flag', () => {
    // Act
    const act = () => jobSpecFromFlags(src, dst, { workers: 'many' });
    // Assess
    expect(act).toThrow(/^--workers: "many" is not a whole number between 1 and 300/);
  });
});
