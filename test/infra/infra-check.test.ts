/**
 * `npm run infra:check` run as an operator runs it (spawned, output read): the worked example passes; a
 * refused config names key, reason and fix; a provider without a field the program sets is reported
 * resource by resource with a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROVIDER_SCHEMA_FILE } from '../../infra/check/mocks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ossferry-infra-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function infraCheck(...args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'infra:check', '--', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    // Node 24 first, as docs/deploy.md asks of an operator.
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` },
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm run infra:check', () => {
  it('passes on Pulumi.prod.yaml, listing each resource with its key settings', () => {
    // Prepare: the worked example in the repository
    // Act
    const { status, out } = infraCheck('Pulumi.prod.yaml');
    // Assess
    expect(out).toMatch(/provider schema: github\.com\/aliyun\/terraform-provider-alicloud at [0-9a-f]{40}/);
    expect(out).toMatch(/✓ fc\.Service transfer-service\n(.*\n)*? {4}vpcConfig: \{securityGroupId: sg-bp1example0000000000, vswitchIds: \[vsw-bp1example0000000000\]\}/);
    expect(out).toMatch(/✓ fc\.V2Function transfer-worker\n(.*\n)*? {4}instanceLifecycleConfig: \{preStop: \{handler: pre-stop, timeout: 15\}\}/);
    expect(out).toMatch(/✓ fc\.FunctionAsyncInvokeConfig transfer-coordinator-async\n(.*\n)*? {4}destinationConfig: \{onFailure: \{destination: acs:mns:/);
    expect(out).toMatch(/note: ossferry:sftpPrivateKey is not in Pulumi\.prod\.yaml.*pulumi config set --secret sftpPrivateKey/);
    expect(out).not.toMatch(/VIOLATION|✗/);
    expect(out).toMatch(/OK: \d+ resources, no schema or deploy-rule violation/);
    expect(status).toBe(0);
  });

  it('checks the only Pulumi.<env>.yaml when none is named', () => {
    // Act
    const { status, out } = infraCheck();
    // Assess
    expect(out).toMatch(/^infra:check .*Pulumi\.prod\.yaml \(project ossferry, stack prod\)/m);
    expect(status).toBe(0);
  });

  it('refuses a config above the instance quota, naming the key, the reason and the fix', () => {
    // Prepare
    const prod = readFileSync(path.join(ROOT, 'Pulumi.prod.yaml'), 'utf8');
    const file = path.join(tmp, 'Pulumi.big.yaml');
    writeFileSync(file, prod.replace('    maxInstances: 32', '    maxInstances: 300'));
    // Act
    const { status, out } = infraCheck(file);
    // Assess
    expect(out).toMatch(/REFUSED config: ossferry:worker\.maxInstances: \(300\) is above the account's on-demand instance quota/);
    expect(out).toMatch(/Fix: pulumi config set --path worker\.maxInstances 100, or .*pulumi config set instanceQuota 300/);
    expect(status).toBe(1);
  });

  it('reports every input an older provider would reject, with a non-zero exit', () => {
    // Prepare: the same schema without the fields added in later provider versions the program relies on
    const schema = JSON.parse(readFileSync(PROVIDER_SCHEMA_FILE, 'utf8'));
    delete schema.resources['alicloud:fc/v2Function:V2Function'].fields.instance_lifecycle_config;
    delete schema.resources['alicloud:ram/policy:Policy'].fields.rotate_strategy;
    const older = path.join(tmp, 'older-provider.json');
    writeFileSync(older, JSON.stringify(schema));
    // Act
    const { status, out } = infraCheck('Pulumi.prod.yaml', '--schema', older);
    // Assess
    expect(out).toMatch(/✗ fc\.V2Function transfer-worker\n(.*\n)*? {4}VIOLATION \[unknown-field\] instanceLifecycleConfig: /);
    expect(out).toMatch(/✗ ram\.Policy roles-p0\n(.*\n)*? {4}VIOLATION \[unknown-field\] rotateStrategy: /);
    expect(out).toMatch(/FAILED: \d+ violation\(s\)/);
    expect(status).toBe(1);
  });
});
