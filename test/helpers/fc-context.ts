/** The FC context a worker handler gets for one invocation, for tests that call a handler in-process. */
import { silentLogger } from '../../shared/log.ts';
import type { FcContext } from '../../functions/runtime/types.ts';
import type { OssCredentials } from '../../functions/oss/client.ts';

export function workerContext(credentials: OssCredentials, region: string): FcContext {
  return {
    requestId: 'req-test',
    credentials,
    region,
    accountId: '123',
    service: { name: 'ossferry' },
    function: { name: 'worker', memoryMb: 1024, timeoutSeconds: 600 },
    deadlineMs: Date.now() + 600_000,
    logger: silentLogger,
    signal: new AbortController().signal,
  };
}
