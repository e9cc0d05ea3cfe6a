/**
 * infra/index.ts and infra/config.ts end to end: stack config set the way `pulumi config set` stores it
 * (`ossferry:<key>` strings, secrets flagged), the program imported after the mocks, outputs exported.
 */
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIGEST, installMocks, ofType, promiseOf, recorded, settle } from './harness.ts';
import { InvalidInputError } from '../../shared/errors.ts';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nentrypoint-test-key\n-----END OPENSSH PRIVATE KEY-----';

const STACK_CONFIG: Record<string, string> = {
  'alicloud:region': 'cn-shanghai',
  'alicloud:accountId': '5555666677778888',
  'ossferry:statusBucket': 'acme-status',
  'ossferry:destinations': '[{"bucket":"acme-dst","prefix":"in/"}]',
  'ossferry:image': JSON.stringify({ namespace: 'acme', repo: 'ossferry', digest: DIGEST }),
  'ossferry:worker': '{"memoryMb":6144,"vcpu":3}',
  'ossferry:sftpHostKeys': JSON.stringify({ 'sftp.acme.example': `SHA256:${'C'.repeat(43)}` }),
  'ossferry:sftpPrivateKey': KEY,
};

let program: Record<string, unknown>;

beforeAll(async () => {
  await installMocks();
  pulumi.runtime.setAllConfig(STACK_CONFIG, ['ossferry:sftpPrivateKey']);
  program = await import('../../infra/index.ts');
  await promiseOf(pulumi.output(program.copyFlags as pulumi.Output<string>));
  await settle();
});

describe('infra/index.ts', () => {
  it('deploys from stack config and exports the CLI flags', async () => {
    // Prepare
    const flags = program.copyFlags as pulumi.Output<string>;
    // Act
    const resolved = await promiseOf(flags);
    // Assess
    expect(resolved).toBe('--fc-account-id 5555666677778888 --fc-region cn-shanghai --fc-service ossferry-dev --fc-function ossferry-dev-coordinator');
    expect(program.region).toBe('cn-shanghai');
    const worker = ofType('alicloud:fc/v2Function:V2Function').find((r) => r.name.endsWith('-worker'))!;
    expect(worker.inputs).toMatchObject({ memorySize: 6144, cpu: 3 });
  });

  it('exports no secret and no secret text', async () => {
    // Prepare
    const names = Object.keys(program);
    // Act
    const values: Record<string, unknown> = {};
    for (const n of names) {
      const v = program[n];
      if (pulumi.Output.isInstance(v)) {
        expect(await pulumi.isSecret(v), n).toBe(false);
        values[n] = await promiseOf(v);
      } else values[n] = v;
    }
    // Assess
    expect(names).toEqual(
      expect.arrayContaining(['serviceName', 'coordinatorFunctionName', 'coordinatorFunctionArn', 'workerFunctionName', 'workerFunctionArn', 'logProject', 'logStore', 'copyFlags']),
    );
    expect(JSON.stringify(values)).not.toContain('entrypoint-test-key');
    expect(recorded.length).toBeGreaterThan(10);
  });
});

describe('infra/config.ts loadConfig', () => {
  it('refuses a typo in a key, naming it', async () => {
    // Prepare
    const { loadConfig } = await import('../../infra/config.ts');
    pulumi.runtime.setAllConfig({ ...STACK_CONFIG, 'ossferry:workr': '{}' }, ['ossferry:sftpPrivateKey']);
    // Act
    const act = () => loadConfig();
    // Assess
    expect(act).toThrow(InvalidInputError);
    expect(act).toThrow(/^ossferry:workr: is not a known setting/);
  });

  it('refuses the SFTP key set without --secret, without echoing it', async () => {
    // Prepare
    const { loadConfig } = await import('../../infra/config.ts');
    pulumi.runtime.setAllConfig(STACK_CONFIG, []);
    // Act
    let message = '';
    try {
      loadConfig();
    } catch (err) {
      message = (err as Error).message;
    }
    // Assess
    expect(message).toMatch(/^ossferry:sftpPrivateKey: is set as plain text/);
    expect(message).toMatch(/pulumi config set --secret sftpPrivateKey/);
    expect(message).not.toContain('entrypoint-test-key');
  });

  it('passes the secret through as a secret Output', async () => {
    // Prepare
    const { loadConfig } = await import('../../infra/config.ts');
    pulumi.runtime.setAllConfig(STACK_CONFIG, ['ossferry:sftpPrivateKey']);
    // Act
    const config = loadConfig();
    // Assess
    const secret = config.secrets.sftpPrivateKey!;
    expect(await pulumi.isSecret(secret)).toBe(true);
    expect(await promiseOf(secret)).toBe(KEY);
    expect(JSON.stringify({ ...config, secrets: undefined })).not.toContain('entrypoint-test-key');
  });
});
