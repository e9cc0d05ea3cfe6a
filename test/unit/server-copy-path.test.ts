import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseCopyPath } from '../../functions/engine/modes/server-copy.ts';
import { parseJob } from '../../shared/job.ts';

const region = 'cn-hangzhou';
const spec = fc.record(
  {
    source: fc.constantFrom('oss://src/a.bin', 'https://example.com/a.bin'),
    sourceEndpoint: fc.constantFrom('https://oss-cn-beijing.aliyuncs.com', 'https://oss-cn-hangzhou-internal.aliyuncs.com'),
    sourceRegion: fc.constantFrom('cn-hangzhou', 'cn-beijing', 'oss-cn-hangzhou'),
    mode: fc.constantFrom('copy' as const, 'archive' as const),
  },
  { requiredKeys: ['source', 'mode'] },
);
const identity = fc.record(
  { size: fc.nat({ max: 1e12 }), etag: fc.constant('"ABC"'), crc64: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
  { requiredKeys: ['size'] },
);

describe('chooseCopyPath', () => {
  it('property: server copy exactly for a copy of a same-region, server-copyable oss:// source (no endpoint, no other region) with size, ETag and CRC-64', () => {
    fc.assert(
      fc.property(spec, identity, fc.boolean(), (s, id, copyable) => {
        // Prepare
        const ossOnly = s.source.startsWith('oss://') ? s : { source: s.source, mode: s.mode };
        const job = parseJob({ ...ossOnly, destination: 'oss://dst/b.bin' });
        // Act
        const choice = chooseCopyPath(job, id, region, copyable);
        // Assess
        const expected =
          job.mode === 'copy' &&
          job.source.kind === 'oss' &&
          copyable &&
          job.source.endpoint === undefined &&
          (job.source.region === undefined || job.source.region === region) &&
          id.size > 0 &&
          id.etag !== undefined &&
          id.crc64 !== undefined;
        expect(choice.path).toBe(expected ? 'server-copy' : 'stream');
        if (choice.path === 'stream') expect(choice.reason.length).toBeGreaterThan(0);
        else expect(choice.etag).toBe(id.etag);
      }),
    );
  });

  it('a source region given while the function region is unknown streams (same region cannot be shown)', () => {
    // Prepare
    const job = parseJob({ source: 'oss://src/a.bin', sourceRegion: 'cn-hangzhou', destination: 'oss://dst/b.bin' });
    // Act
    const choice = chooseCopyPath(job, { size: 10, etag: '"A"', crc64: 1n }, undefined, true);
    // Assess
    expect(choice).toMatchObject({ path: 'stream', reason: expect.stringMatching(/sourceRegion cn-hangzhou/) });
  });
});
