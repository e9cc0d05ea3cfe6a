import { afterEach, describe, expect, it } from 'vitest';
import { startRuntime, type RunningRuntime } from '../../../functions/runtime/server.ts';
import { HandlerError, type FcContext, type Handler } from '../../../functions/runtime/types.ts';
import { createLogger } from '../../../shared/log.ts';

const FC_HEADERS = {
  'x-fc-request-id': 'req-1',
  'x-fc-access-key-id': 'STS.akid',
  'x-fc-access-key-secret': 'sts-secret',
  'x-fc-security-token': 'sts-token',
  'x-fc-region': 'cn-hangzhou',
  'x-fc-account-id': '1234567890',
  'x-fc-service-name': 'ossferry',
  'x-fc-service-logproject': 'proj',
  'x-fc-service-logstore': 'store',
  'x-fc-qualifier': 'LATEST',
  'x-fc-function-name': 'worker',
  'x-fc-function-handler': 'index.handler',
  'x-fc-function-memory': '2048',
  'x-fc-function-initializer': 'init',
  'x-fc-function-timeout': '30',
  'x-fc-control-path': '/invoke',
};

let running: RunningRuntime | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(handler: Handler, extra: { initialize?: (ctx: FcContext) => Promise<void> } = {}) {
  const markers: string[] = [];
  const logs: string[] = [];
  running = await startRuntime({
    handler,
    port: 0,
    host: '127.0.0.1',
    writeMarker: (l) => markers.push(l),
    logger: createLogger({}, { sink: (l) => logs.push(l) }),
    preStopGraceMs: 2000,
    ...extra,
  });
  return { base: `http://127.0.0.1:${running.port}`, markers, logs };
}

describe('FC custom-container runtime', () => {
  it('invokes the handler with the raw event and a context built from x-fc-* headers', async () => {
    // Prepare
    let seen: { event: string; ctx: FcContext } | undefined;
    const { base, markers, logs } = await start(async (event, ctx) => {
      seen = { event: event.toString('utf8'), ctx };
      ctx.logger.info('inside handler');
      return { ok: true, crc: 123n };
    });
    const before = Date.now();
    // Act
    const res = await fetch(`${base}/invoke`, {
      method: 'POST',
      headers: { ...FC_HEADERS, 'content-type': 'application/octet-stream' },
      body: Buffer.from('{"hello":"world"}'),
    });
    const body = await res.json();
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('x-fc-status')).toBe('200');
    expect(body).toEqual({ ok: true, crc: '123' });
    expect(seen?.event).toBe('{"hello":"world"}');
    const ctx = seen!.ctx;
    expect(ctx.requestId).toBe('req-1');
    expect(ctx.credentials).toEqual({ accessKeyId: 'STS.akid', accessKeySecret: 'sts-secret', securityToken: 'sts-token' });
    expect(ctx.region).toBe('cn-hangzhou');
    expect(ctx.accountId).toBe('1234567890');
    expect(ctx.service).toEqual({ name: 'ossferry', logProject: 'proj', logStore: 'store', qualifier: 'LATEST' });
    expect(ctx.function).toEqual({ name: 'worker', handler: 'index.handler', memoryMb: 2048, timeoutSeconds: 30, initializer: 'init' });
    expect(ctx.deadlineMs).toBeGreaterThanOrEqual(before + 30_000);
    expect(ctx.deadlineMs).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(markers).toEqual(['FC Invoke Start RequestId: req-1', 'FC Invoke End RequestId: req-1']);
    const handlerLine = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'inside handler');
    expect(handlerLine.requestId).toBe('req-1');
    expect(logs.join('\n')).not.toContain('sts-secret');
  });

  it('answers a handler failure with 404, x-fc-status 404 and a JSON error body', async () => {
    // Prepare
    const { base } = await start(async () => {
      throw new HandlerError('SourceUnavailable', 'origin returned 503', { retryable: true, details: { part: 7 } });
    });
    // Act
    const res = await fetch(`${base}/invoke`, { method: 'POST', headers: FC_HEADERS, body: '{}' });
    const body = await res.json();
    // Assess
    expect(res.status).toBe(404);
    expect(res.headers.get('x-fc-status')).toBe('404');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(body).toEqual({
      errorMessage: 'origin returned 503',
      errorType: 'HandlerError',
      code: 'SourceUnavailable',
      retryable: true,
      details: { part: 7 },
    });
  });

  it('reports a plain thrown error as a non-retryable function error', async () => {
    // Prepare
    const { base } = await start(async () => {
      throw new TypeError('bad thing', { cause: new Error('root') });
    });
    // Act
    const res = await fetch(`${base}/invoke`, { method: 'POST', headers: FC_HEADERS, body: '' });
    const body = await res.json();
    // Assess
    expect(res.status).toBe(404);
    expect(body).toMatchObject({ errorMessage: 'bad thing', errorType: 'TypeError', retryable: false, cause: { message: 'root' } });
  });

  it('runs the initializer once on POST /initialize, retrying after a failure', async () => {
    // Prepare
    let calls = 0;
    const { base } = await start(async () => 'ok', {
      initialize: async () => {
        calls++;
        if (calls === 1) throw new HandlerError('InitFailed', 'first try fails');
      },
    });
    // Act
    const first = await fetch(`${base}/initialize`, { method: 'POST', headers: FC_HEADERS });
    const second = await fetch(`${base}/initialize`, { method: 'POST', headers: FC_HEADERS });
    const third = await fetch(`${base}/initialize`, { method: 'POST', headers: FC_HEADERS });
    const invoked = await fetch(`${base}/invoke`, { method: 'POST', headers: FC_HEADERS, body: '' });
    // Assess
    expect([first.status, first.headers.get('x-fc-status')]).toEqual([404, '404']);
    expect(await first.json()).toMatchObject({ errorMessage: 'first try fails', code: 'InitFailed' });
    expect(second.status).toBe(200);
    expect(third.status).toBe(200);
    expect(calls).toBe(2);
    expect(await invoked.json()).toBe('ok');
  });

  it('aborts in-flight invocations on GET /pre-stop and answers pre-freeze', async () => {
    // Prepare
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const { base } = await start(
      (_event, ctx) =>
        new Promise((resolve) => {
          entered();
          ctx.signal.addEventListener('abort', () => resolve({ aborted: String((ctx.signal.reason as Error).message) }));
        }),
    );
    const invocation = fetch(`${base}/invoke`, { method: 'POST', headers: FC_HEADERS, body: '' }).then((r) => r.json());
    await inHandler;
    // Act
    const freeze = await fetch(`${base}/pre-freeze`);
    const stop = await fetch(`${base}/pre-stop`);
    // Assess
    expect(freeze.status).toBe(200);
    expect(stop.status).toBe(200);
    expect(await invocation).toEqual({ aborted: 'instance is stopping (pre-stop)' });
    expect(running!.signal.aborted).toBe(true);
  });

  it('aborts the context signal when the caller hangs up', async () => {
    // Prepare
    let aborted!: (why: string) => void;
    const abortSeen = new Promise<string>((r) => (aborted = r));
    const { base } = await start(
      (_e, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted(String((ctx.signal.reason as Error).message));
            resolve('gone');
          });
        }),
    );
    const caller = new AbortController();
    const pending = fetch(`${base}/invoke`, { method: 'POST', headers: FC_HEADERS, body: '', signal: caller.signal }).catch(
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 50));
    // Act
    caller.abort();
    const why = await abortSeen;
    // Assess
    expect(why).toBe('invocation connection closed');
    expect(await pending).toBeInstanceOf(Error);
  });

  it('aborts the context signal shortly after the function deadline', async () => {
    // Prepare
    const { base } = await start(
      (_e, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => resolve({ reason: (ctx.signal.reason as Error).message }));
        }),
    );
    // Act
    const res = await fetch(`${base}/invoke`, { method: 'POST', headers: { ...FC_HEADERS, 'x-fc-function-timeout': '1' }, body: '' });
    // Assess
    expect(await res.json()).toEqual({ reason: 'function timeout of 1 s reached' });
  });

  it('answers unknown routes with 404 and no x-fc-status', async () => {
    // Prepare
    const { base } = await start(async () => 'never');
    // Act
    const res = await fetch(`${base}/nope`);
    // Assess
    expect(res.status).toBe(404);
    expect(res.headers.get('x-fc-status')).toBeNull();
    expect(await res.json()).toMatchObject({ errorType: 'NotFound' });
  });
});
