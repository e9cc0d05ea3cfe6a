/**
 * The local FC gateway calls GET /pre-stop and GET /pre-freeze only when the function configures them
 * (instanceLifecycleConfig), as FC does: both ways, observed in what the runtime itself logs.
 */
import FCClient from '@alicloud/fc2';
import { describe, expect, it } from 'vitest';
import { startFcGateway } from '../../../local/fc/gateway.ts';
import { ACCOUNT, AK, SK, echoFunction, gatewayOptions } from '../../helpers/fc-gateway.ts';

async function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('local FC gateway lifecycle hooks', () => {
  it('calls pre-freeze after an invocation and pre-stop on stop only for the function that configures them', async () => {
    // Prepare
    const lines: Array<{ fn: string; msg: string }> = [];
    const debug = { OSSFERRY_LOG_LEVEL: 'debug' };
    const gw = await startFcGateway(
      gatewayOptions({
        onInstanceOutput: (line, meta) => {
          try {
            lines.push({ fn: meta.function, msg: String((JSON.parse(line) as { msg?: unknown }).msg) });
          } catch {
            // not a log line
          }
        },
        functions: [
          echoFunction('hooked', { env: debug, lifecycle: { preStop: { timeoutSeconds: 5 }, preFreeze: { timeoutSeconds: 2 } } }),
          echoFunction('plain', { env: debug }),
        ],
      }),
    );
    const client = new FCClient(ACCOUNT, { accessKeyID: AK, accessKeySecret: SK, region: 'cn-hangzhou', endpoint: gw.endpoint, timeout: 20_000 });
    const saw = (fn: string, msg: string) => lines.some((l) => l.fn === `svc/${fn}` && l.msg.startsWith(msg));
    try {
      // Act
      await client.invokeFunction('svc', 'hooked', '{}');
      await client.invokeFunction('svc', 'plain', '{}');
      await until(() => saw('hooked', 'pre-freeze'));
    } finally {
      await gw.close();
    }
    // Assess
    expect(saw('hooked', 'pre-freeze')).toBe(true);
    expect(saw('hooked', 'pre-stop')).toBe(true);
    expect(saw('plain', 'echo invoked')).toBe(true);
    expect(saw('plain', 'pre-freeze')).toBe(false);
    expect(saw('plain', 'pre-stop')).toBe(false);
  });
});
