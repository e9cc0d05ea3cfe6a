/**
 * Shared setup of the local FC gateway tests (test/integration/fc): the gateway's account and signing key,
 * and echo functions (test/helpers/echo-function.ts) run as child processes.
 */
import type { FcGatewayOptions, LocalFunctionSpec } from '../../local/fc/gateway.ts';
import { silentLogger } from '../../shared/log.ts';

export const ACCOUNT = '1234567890';
export const AK = 'local-ak';
export const SK = 'local-sk';

const REPO = new URL('../../', import.meta.url).pathname;

/** One child process per instance, serving test/helpers/echo-function.ts. */
export const ECHO_PROCESS = { kind: 'process' as const, command: process.execPath, args: ['test/helpers/echo-function.ts'], cwd: REPO };

/** A one-instance echo function `svc/<name>` (256 MB, 10 s, concurrency 1); `over` replaces any field. */
export function echoFunction(name: string, over: Partial<LocalFunctionSpec> = {}): LocalFunctionSpec {
  return {
    serviceName: 'svc',
    functionName: name,
    memoryMb: 256,
    timeoutSeconds: 10,
    instanceConcurrency: 1,
    maxInstances: 1,
    instances: ECHO_PROCESS,
    ...over,
  };
}

/** Gateway options for these tests: the account and key above, `oss-ak`/`oss-sk` for the functions, no logs; `over` replaces any field. */
export function gatewayOptions(over: Partial<FcGatewayOptions> & Pick<FcGatewayOptions, 'functions'>): FcGatewayOptions {
  return {
    accountId: ACCOUNT,
    accessKeyId: AK,
    accessKeySecret: SK,
    credentialsForFunctions: { accessKeyId: 'oss-ak', accessKeySecret: 'oss-sk' },
    logger: silentLogger,
    ...over,
  };
}
