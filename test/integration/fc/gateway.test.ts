import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import FCClient from '@alicloud/fc2';
import { startFcGateway, type LocalFunctionSpec, type RunningFcGateway, type AsyncResult } from '../../../local/fc/gateway.ts';
import { startRuntime, type RunningRuntime } from '../../../functions/runtime/server.ts';
import { echoHandler } from '../../helpers/echo-function.ts';
import { createLogger } from '../../../shared/log.ts';
import { ACCOUNT, AK, SK, echoFunction, gatewayOptions } from '../../helpers/fc-gateway.ts';

function fn(name: string, over: Partial<LocalFunctionSpec> = {}): LocalFunctionSpec {
  return echoFunction(name, { memoryMb: 512, env: { ECHO_TAG: name }, ...over });
}

interface EchoResult {
  event: Record<string, unknown>;
  instance: { pid: number; invocations: number; activeAtReturn: number; initializedAt?: number };
  context: {
    requestId: string;
    region: string;
    accountId: string;
    service: Record<string, unknown>;
    function: Record<string, unknown>;
    credentials: Record<string, unknown>;
    env: Record<string, unknown>;
  };
}

async function until<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('local FC gateway with child-process instances and the unmodified fc2 client', () => {
  let gw: RunningFcGateway;
  let client: FCClient;
  const output: { line: string; fn: string; instance: string }[] = [];
  const asyncResults: AsyncResult[] = [];

  beforeAll(async () => {
    gw = await startFcGateway(gatewayOptions({
      region: 'cn-shanghai',
      credentialsForFunctions: { accessKeyId: 'oss-ak', accessKeySecret: 'oss-sk', securityToken: 'oss-token' },
      onInstanceOutput: (line, meta) => output.push({ line, fn: meta.function, instance: meta.instanceId }),
      onAsyncResult: (r) => asyncResults.push(r),
      functions: [
        fn('echo', { initializer: 'init', maxInstances: 2 }),
        fn('conc', { instanceConcurrency: 2, maxInstances: 1 }),
        fn('slow', { timeoutSeconds: 1 }),
        fn('idle', { idleTimeoutMs: 150, lifecycle: { preStop: { timeoutSeconds: 3 } } }),
        fn('async', { asyncRetryAttempts: 1 }),
        fn('broken', { instances: { kind: 'process', command: process.execPath, args: ['-e', 'process.exit(3)'] } }),
      ],
    }));
    client = new FCClient(ACCOUNT, { accessKeyID: AK, accessKeySecret: SK, region: 'cn-shanghai', endpoint: gw.endpoint, timeout: 20_000 });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('runs a signed invocation on a child process with x-fc-* context, credentials and initializer', async () => {
    // Prepare
    const event = JSON.stringify({ hello: 'world' });
    // Act
    const res = await client.invokeFunction('svc', 'echo', event, {}, 'prod');
    // Assess
    const data = res.data as EchoResult;
    expect(res.headers['x-fc-error-type']).toBeUndefined();
    expect(data.event).toEqual({ hello: 'world' });
    expect(data.context.requestId).toBe(res.headers['x-fc-request-id']);
    expect(data.context.region).toBe('cn-shanghai');
    expect(data.context.accountId).toBe(ACCOUNT);
    expect(data.context.service).toEqual({ name: 'svc', qualifier: 'prod' });
    expect(data.context.function).toEqual({ name: 'echo', handler: 'index.handler', memoryMb: 512, timeoutSeconds: 10, initializer: 'init' });
    expect(data.context.credentials).toEqual({ accessKeyId: 'oss-ak', accessKeySecret: 'oss-sk', securityToken: 'oss-token' });
    expect(data.context.env).toEqual({ echoTag: 'echo' });
    expect(typeof data.instance.initializedAt).toBe('number');
    // The child's stdout travels a pipe independent of the HTTP answer: wait for the End marker.
    const endMarker = `FC Invoke End RequestId: ${data.context.requestId}`;
    const lines = await until(() => {
      const l = output.filter((o) => o.fn === 'svc/echo').map((o) => o.line);
      return l.includes(endMarker) ? l : undefined;
    });
    expect(lines.indexOf(`FC Invoke Start RequestId: ${data.context.requestId}`)).toBeLessThan(lines.indexOf(endMarker));
    expect(gw.stats()['svc/echo']!.startToReadyMs.length).toBe(1);
  });

  it('rejects a wrong secret with 403 SignatureNotMatch in the JSON shape fc2 reads', async () => {
    // Prepare
    const wrong = new FCClient(ACCOUNT, { accessKeyID: AK, accessKeySecret: 'not-the-secret', region: 'cn-shanghai', endpoint: gw.endpoint });
    // Act
    const err = await wrong.invokeFunction('svc', 'echo', '{}').catch((e: Error & { code?: string }) => e);
    // Assess
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('FCSignatureNotMatchError');
    expect((err as { code?: string }).code).toBe('SignatureNotMatch');
    expect((err as Error).message).toContain('failed with 403');
  });

  it('accepts fc2-signed headers replayed as is, and rejects them once a signed header or the body changes', async () => {
    // Prepare: sign exactly as fc2 does (its own static signer), then send with fetch.
    const path = '/2016-08-15/services/svc/functions/echo/invocations';
    const body = Buffer.from('{"n":1}');
    const md5 = Buffer.from((await import('node:crypto')).createHash('md5').update(body).digest('hex')).toString('base64');
    const headers: Record<string, string> = {
      accept: 'application/json',
      date: new Date().toUTCString(),
      'x-fc-account-id': ACCOUNT,
      'content-type': 'application/octet-stream',
      'content-md5': md5,
    };
    headers.authorization = FCClient.getSignature(AK, SK, 'POST', path, headers);
    const send = (h: Record<string, string>, b: Buffer) => fetch(`${gw.endpoint}${path}`, { method: 'POST', headers: h, body: b });
    // Act
    const good = await send(headers, body);
    const tamperedHeader = await send({ ...headers, 'x-fc-invocation-type': 'Async' }, body);
    const tamperedBody = await send(headers, Buffer.from('{"n":2}'));
    // Assess
    expect(good.status).toBe(200);
    expect(((await good.json()) as EchoResult).event).toEqual({ n: 1 });
    expect(tamperedHeader.status).toBe(403);
    expect(await tamperedHeader.json()).toMatchObject({ ErrorCode: 'SignatureNotMatch' });
    expect(tamperedBody.status).toBe(400);
    expect(await tamperedBody.json()).toMatchObject({ ErrorCode: 'InvalidArgument' });
  });

  it('answers unknown functions with FunctionNotFound', async () => {
    // Prepare
    const call = () => client.invokeFunction('svc', 'missing', '{}');
    // Act
    const err = (await call().catch((e: unknown) => e)) as Error & { code?: string };
    // Assess
    expect(err.name).toBe('FCFunctionNotFoundError');
    expect(err.message).toContain('failed with 404');
  });

  it('surfaces a handler failure as HTTP 200 with x-fc-error-type and the function error JSON', async () => {
    // Prepare
    const event = JSON.stringify({ fail: { code: 'Boom', message: 'it broke', retryable: true } });
    // Act
    const res = await client.invokeFunction('svc', 'echo', event);
    // Assess
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.data).toEqual({ errorMessage: 'it broke', errorType: 'HandlerError', code: 'Boom', retryable: true });
  });

  it('accepts async invocations with 202 and runs them in the background, retrying function errors', async () => {
    // Prepare
    const okEvent = JSON.stringify({ tag: 'async-ok' });
    const failEvent = JSON.stringify({ fail: { code: 'Nope', message: 'always' } });
    // Act
    const ok = await client.invokeFunction('svc', 'async', okEvent, { 'X-Fc-Invocation-Type': 'Async' });
    const bad = await client.invokeFunction('svc', 'async', failEvent, { 'X-Fc-Invocation-Type': 'Async' });
    const okId = ok.headers['x-fc-request-id'] as string;
    const badId = bad.headers['x-fc-request-id'] as string;
    const [okResult, badResult] = await until(() => {
      const a = asyncResults.find((r) => r.requestId === okId);
      const b = asyncResults.find((r) => r.requestId === badId);
      return a && b ? [a, b] : undefined;
    });
    // Assess
    expect(ok.data).toBe('');
    expect(okResult).toMatchObject({ ok: true, attempts: 1, service: 'svc', function: 'async' });
    expect((JSON.parse(okResult.body) as EchoResult).event).toEqual({ tag: 'async-ok' });
    expect(badResult).toMatchObject({ ok: false, attempts: 2, errorType: 'UnhandledInvocationError' });
    expect(gw.stats()['svc/async']!.asyncAccepted).toBe(2);
  });

  it('rejects async payloads over 128 KB with 400 EntityTooLarge', async () => {
    // Prepare
    const big = JSON.stringify({ pad: 'x'.repeat(128 * 1024) });
    // Act
    const err = (await client
      .invokeFunction('svc', 'async', big, { 'X-Fc-Invocation-Type': 'Async' })
      .catch((e: unknown) => e)) as Error & { code?: string };
    // Assess
    expect(err.code).toBe('EntityTooLarge');
    expect(err.message).toContain('failed with 400');
  });

  it('runs up to instanceConcurrency on one instance and throttles beyond with 429 ResourceExhausted', async () => {
    // Prepare
    const slow = JSON.stringify({ sleepMs: 600 });
    const first = client.invokeFunction('svc', 'conc', slow);
    const second = client.invokeFunction('svc', 'conc', slow);
    await until(() => (gw.stats()['svc/conc']!.active === 2 ? true : undefined));
    // Act
    const third = await client.invokeFunction('svc', 'conc', '{}').catch((e: unknown) => e as Error & { code?: string });
    const [a, b] = await Promise.all([first, second]);
    // Assess
    expect((third as Error).name).toBe('FCResourceExhaustedError');
    expect((third as { code?: string }).code).toBe('ResourceExhausted');
    expect((third as Error).message).toContain('failed with 429');
    expect((a.data as EchoResult).instance.pid).toBe((b.data as EchoResult).instance.pid);
    const s = gw.stats()['svc/conc']!;
    expect(s.peakActive).toBe(2);
    expect(s.throttled).toBe(1);
    expect(s.instancesStarted).toBe(1);
  });

  it('enforces the function timeout and replaces the timed-out instance', async () => {
    // Prepare
    const started = Date.now();
    // Act
    const res = await client.invokeFunction('svc', 'slow', JSON.stringify({ sleepMs: 8000 }));
    const elapsed = Date.now() - started;
    const after = await client.invokeFunction('svc', 'slow', '{}');
    // Assess
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.data).toMatchObject({ errorType: 'FunctionTimeout', errorMessage: 'Function timed out after 1 seconds' });
    expect(elapsed).toBeLessThan(6000);
    expect(after.headers['x-fc-error-type']).toBeUndefined();
    const s = gw.stats()['svc/slow']!;
    expect(s.timeouts).toBe(1);
    expect(s.instancesStarted).toBe(2);
  });

  it('reaps idle instances after idleTimeoutMs (with pre-stop) and cold-starts a new one', async () => {
    // Prepare
    const first = (await client.invokeFunction('svc', 'idle', '{}')).data as EchoResult;
    // Act
    await until(() => (gw.stats()['svc/idle']!.instancesReaped === 1 ? true : undefined));
    const second = (await client.invokeFunction('svc', 'idle', '{}')).data as EchoResult;
    // Assess
    expect(second.instance.pid).not.toBe(first.instance.pid);
    expect(second.instance.invocations).toBe(1);
    const s = gw.stats()['svc/idle']!;
    expect(s.instancesStarted).toBe(2);
    expect(s.startToReadyMs).toHaveLength(2);
    expect(output.some((o) => o.fn === 'svc/idle' && o.instance === '1' && o.line.includes('pre-stop'))).toBe(true);
  });

  it('answers 502 FunctionNotStarted when the instance exits before listening', async () => {
    // Prepare
    const call = () => client.invokeFunction('svc', 'broken', '{}');
    // Act
    const err = (await call().catch((e: unknown) => e)) as Error & { code?: string };
    // Assess
    expect(err.name).toBe('FCFunctionNotStartedError');
    expect(err.message).toContain('failed with 502');
    expect(err.message).toContain('code 3');
  });

  it('reports an instance that dies mid-invocation as a function error', async () => {
    // Prepare
    const event = JSON.stringify({ exit: 9 });
    // Act
    const res = await client.invokeFunction('svc', 'echo', event);
    // Assess
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.data).toMatchObject({ errorType: 'InstanceExited' });
  });
});

describe('local FC gateway with external instances', () => {
  let runtime: RunningRuntime;
  let gw: RunningFcGateway;

  beforeAll(async () => {
    runtime = await startRuntime({
      handler: echoHandler,
      port: 0,
      host: '127.0.0.1',
      logger: createLogger({}, { sink: () => {} }),
      writeMarker: () => {},
    });
    gw = await startFcGateway(gatewayOptions({
      functions: [fn('ext', { maxInstances: 5, instances: { kind: 'external', urls: [`http://127.0.0.1:${runtime.port}/`] } })],
    }));
  });
  afterAll(async () => {
    await gw?.close();
    await runtime?.close();
  });

  it('routes invocations to the given base URL and caps instances at the number of URLs', async () => {
    // Prepare
    const client = new FCClient(ACCOUNT, { accessKeyID: AK, accessKeySecret: SK, region: 'cn-hangzhou', endpoint: gw.endpoint });
    const slow = client.invokeFunction('svc', 'ext', JSON.stringify({ sleepMs: 400 }));
    await until(() => (gw.stats()['svc/ext']!.active === 1 ? true : undefined));
    // Act
    const throttled = await client.invokeFunction('svc', 'ext', '{}').catch((e: unknown) => e as Error & { code?: string });
    const res = await slow;
    // Assess
    expect((res.data as EchoResult).instance.pid).toBe(process.pid);
    expect((res.data as EchoResult).context.credentials).toEqual({ accessKeyId: 'oss-ak', accessKeySecret: 'oss-sk' });
    expect((throttled as { code?: string }).code).toBe('ResourceExhausted');
    expect(runtime.signal.aborted).toBe(false);
  });
});
