import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import FCClient from '@alicloud/fc2';
import { startFcGateway, type RunningFcGateway } from '../../../local/fc/gateway.ts';
import { createFcInvoker, FcInvokeError, FunctionInvocationError, type FcInvokerOptions } from '../../../functions/invoke/invoker.ts';
import { freePort } from '../../../local/fc/instances.ts';
import { createLogger } from '../../../shared/log.ts';
import { ACCOUNT, AK, SK, echoFunction as fn, gatewayOptions } from '../../helpers/fc-gateway.ts';

/**
 * A stand-in front of the gateway that answers the first `failures` requests itself with an FC error
 * (e.g. 503 ResourceThrottled) and forwards the rest unchanged, counting every request.
 */
async function flakyFront(target: string) {
  let failures = 0;
  let failWith = { status: 503, code: 'ResourceThrottled' };
  let seen = 0;
  let lastHeaders: Record<string, unknown> = {};
  const server: Server = createServer((req, res) => {
    seen++;
    lastHeaders = req.headers;
    if (failures > 0) {
      failures--;
      req.resume();
      const body = JSON.stringify({ ErrorCode: failWith.code, ErrorMessage: 'stand-in failure' });
      res.writeHead(failWith.status, { 'content-type': 'application/json', 'x-fc-request-id': `front-${seen}` });
      res.end(body);
      return;
    }
    const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fail(n: number, status = 503, code = 'ResourceThrottled') {
      failures = n;
      failWith = { status, code };
      seen = 0;
    },
    get seen() {
      return seen;
    },
    get lastHeaders() {
      return lastHeaders;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('createFcInvoker over the unmodified fc2 client', () => {
  let gw: RunningFcGateway;
  let front: Awaited<ReturnType<typeof flakyFront>>;
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger({}, { sink: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) });

  const invoker = (over: Partial<FcInvokerOptions> = {}) =>
    createFcInvoker({
      accountId: ACCOUNT,
      region: 'cn-hangzhou',
      endpoint: front.endpoint,
      accessKeyId: AK,
      accessKeySecret: SK,
      timeoutMs: 15_000,
      logger,
      retry: { maxAttempts: 6, baseDelayMs: 40, maxDelayMs: 200 },
      ...over,
    });

  beforeAll(async () => {
    gw = await startFcGateway(gatewayOptions({ onInstanceOutput: () => {}, functions: [fn('one')] }));
    front = await flakyFront(gw.endpoint);
  });
  afterAll(async () => {
    await front?.close();
    await gw?.close();
  });

  it('returns the parsed JSON result of a sync invocation', async () => {
    // Prepare
    front.fail(0);
    // Act
    const out = await invoker().invoke<{ event: unknown }>('svc', 'one', { part: 3, crc: 18446744073709551615n });
    // Assess
    expect(out.event).toEqual({ part: 3, crc: '18446744073709551615' });
    expect(front.seen).toBe(1);
  });

  it('signs a security token given with a non-STS key id (sent as a default x-fc-* header)', async () => {
    // Prepare
    front.fail(0);
    // Act
    const out = await invoker({ securityToken: 'sts-token' }).invoke<{ event: unknown }>('svc', 'one', { token: true });
    // Assess
    expect(out.event).toEqual({ token: true });
    expect(front.lastHeaders['x-fc-security-token']).toBe('sts-token');
  });

  it('retries 429 ResourceExhausted from the gateway until the instance is free', async () => {
    // Prepare
    front.fail(0);
    const direct = new FCClient(ACCOUNT, { accessKeyID: AK, accessKeySecret: SK, region: 'cn-hangzhou', endpoint: gw.endpoint });
    const busy = direct.invokeFunction('svc', 'one', JSON.stringify({ sleepMs: 300 }));
    while (gw.stats()['svc/one']!.active === 0) await new Promise((r) => setTimeout(r, 10));
    const throttledBefore = gw.stats()['svc/one']!.throttled;
    logLines.length = 0;
    // Act
    const out = await invoker({ retry: { maxAttempts: 20, baseDelayMs: 60, maxDelayMs: 120 } }).invoke<{ event: unknown }>('svc', 'one', {
      after: 'busy',
    });
    await busy;
    // Assess
    expect(out.event).toEqual({ after: 'busy' });
    expect(gw.stats()['svc/one']!.throttled).toBeGreaterThan(throttledBefore);
    const retries = logLines.filter((l) => l.msg === 'fc invoke retrying');
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]!.reason).toBe('throttled 429 ResourceExhausted');
  });

  it('retries 503 then succeeds', async () => {
    // Prepare
    front.fail(2, 503, 'ResourceThrottled');
    // Act
    const out = await invoker().invoke<{ event: unknown }>('svc', 'one', { n: 1 });
    // Assess
    expect(out.event).toEqual({ n: 1 });
    expect(front.seen).toBe(3);
  });

  it('gives up after maxAttempts with FcInvokeError carrying status and FC code', async () => {
    // Prepare
    front.fail(100, 500, 'InternalServerError');
    // Act
    const err = await invoker({ retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } })
      .invoke('svc', 'one', {})
      .catch((e: unknown) => e);
    const seen = front.seen;
    front.fail(0);
    // Assess
    expect(err).toBeInstanceOf(FcInvokeError);
    expect(err).toMatchObject({ status: 500, fcCode: 'InternalServerError', attempts: 3, retryable: true });
    expect(seen).toBe(3);
  });

  it('does not retry a 403 signature mismatch', async () => {
    // Prepare
    front.fail(0);
    // Act
    const err = await invoker({ accessKeySecret: 'wrong' })
      .invoke('svc', 'one', {})
      .catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(FcInvokeError);
    expect(err).toMatchObject({ status: 403, fcCode: 'SignatureNotMatch', attempts: 1, retryable: false });
    expect(front.seen).toBe(1);
  });

  it('surfaces a function error as FunctionInvocationError without retrying', async () => {
    // Prepare
    front.fail(0);
    // Act
    const err = await invoker()
      .invoke('svc', 'one', { fail: { code: 'SourceChanged', message: 'etag moved' } })
      .catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(FunctionInvocationError);
    const fe = err as FunctionInvocationError;
    expect(fe.errorType).toBe('UnhandledInvocationError');
    expect(fe.body).toEqual({ errorMessage: 'etag moved', errorType: 'HandlerError', code: 'SourceChanged', retryable: false });
    expect(fe.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(fe.attempts).toBe(1);
    expect(front.seen).toBe(1);
  });

  it('retries a function error that says it is retryable, up to maxAttempts', async () => {
    // Prepare
    front.fail(0);
    // Act
    const err = await invoker({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } })
      .invoke('svc', 'one', { fail: { code: 'Transient', message: 'try again', retryable: true } })
      .catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(FunctionInvocationError);
    expect((err as FunctionInvocationError).retryable).toBe(true);
    expect((err as FunctionInvocationError).attempts).toBe(3);
    expect(front.seen).toBe(3);
  });

  it('returns the request id of an async invocation', async () => {
    // Prepare
    front.fail(0);
    // Act
    const out = await invoker().invoke<{ requestId: string }>('svc', 'one', { async: true }, { async: true });
    // Assess
    expect(out.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('stops retrying when the signal aborts', async () => {
    // Prepare
    front.fail(100, 503, 'ResourceThrottled');
    const ac = new AbortController();
    const pending = invoker({ retry: { maxAttempts: 50, baseDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.99 })
      .invoke('svc', 'one', {}, { signal: ac.signal })
      .catch((e: unknown) => e);
    while (front.seen === 0) await new Promise((r) => setTimeout(r, 10));
    // Act
    ac.abort(new Error('job cancelled'));
    const err = await pending;
    const seen = front.seen;
    front.fail(0);
    // Assess
    expect((err as Error).message).toBe('job cancelled');
    expect(seen).toBe(1);
  });

  it('retries network failures and reports them as FcInvokeError', async () => {
    // Prepare
    const closedPort = await freePort();
    // Act
    const err = await invoker({ endpoint: `http://127.0.0.1:${closedPort}`, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 5 } })
      .invoke('svc', 'one', {})
      .catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(FcInvokeError);
    expect(err).toMatchObject({ attempts: 2, retryable: true, status: undefined });
    expect(((err as FcInvokeError).cause as { code?: string }).code).toBe('ECONNREFUSED');
  });
});
