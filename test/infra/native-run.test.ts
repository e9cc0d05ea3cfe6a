/**
 * The program must run under Node 24's native type stripping, not only under vitest's transform:
 * that is how `pulumi up` runs it (Pulumi.yaml `typescript: false`). Spawns the same Node binary.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('infra/index.ts under plain Node ESM', () => {
  it('loads with Node type stripping and registers the stack', () => {
    // Prepare
    const script = resolve(import.meta.dirname, 'fixtures/native-run.mjs');
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
    // Act
    const stdout = execFileSync(process.execPath, [script], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8' });
    // Assess
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { copyFlags: string; types: string[] };
    expect(result.copyFlags).toBe('--fc-account-id 1234567890123456 --fc-region cn-hangzhou --fc-service ossferry-prod --fc-function ossferry-prod-coordinator');
    expect(result.types).toEqual(
      expect.arrayContaining(['alicloud:fc/service:Service', 'alicloud:fc/v2Function:V2Function', 'alicloud:ram/role:Role', 'alicloud:log/store:Store']),
    );
  });
});
