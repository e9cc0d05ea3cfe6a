/**
 * Local stand-in for the FC 2.0 API (2016-08-15) as far as InvokeFunction goes, faithful to what the unmodified
 * @alicloud/fc2 client sends and expects (FC API reference, InvokeFunction):
 *   POST /2016-08-15/services/{svc[.qualifier]}/functions/{fn}/invocations
 *   - `Authorization: FC akid:sig` verified like FC (HMAC-SHA256 over the string to sign) → 403 SignatureNotMatch JSON on mismatch
 *   - `x-fc-invocation-type: Async` → 202, empty body, run in the background with FC's retry rules
 *   - sync → 200 with the function's output; `x-fc-error-type: UnhandledInvocationError` when the runtime
 *     answered `x-fc-status: 404`, or on timeout / instance crash
 *   - beyond maxInstances × instanceConcurrency → 429 {"ErrorCode":"ResourceExhausted",...} (FC throttling)
 * Errors carry capitalised `ErrorCode`/`ErrorMessage`, the only spelling fc2 turns into err.code.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../shared/log.ts';
import { InvalidInputError, errorToJson } from '../../shared/errors.ts';
import { FC } from '../../shared/limits.ts';
import { TIMEOUT_HEADER } from '../../functions/runtime/context.ts';
import { listen } from '../../functions/runtime/listen.ts';
import { externalProvider, processProvider, type Instance, type InstanceProvider } from './instances.ts';
import { createPool, type FunctionPool, type Slot } from './pool.ts';
import { fcContentMd5, verifyFcSignature } from './signature.ts';
import type { AsyncResult, FcGatewayOptions, FunctionStats, LocalFunctionSpec, RunningFcGateway } from './types.ts';

export type { FcGatewayOptions, LocalFunctionSpec, RunningFcGateway, FunctionStats, AsyncResult } from './types.ts';

const API_PREFIX = '/2016-08-15';
const INVOKE_PATH = /^\/2016-08-15\/services\/([^/]+)\/functions\/([^/]+)\/invocations$/;

type Outcome =
  | { kind: 'throttled'; message: string }
  | { kind: 'notStarted'; message: string }
  | { kind: 'result'; contentType?: string; body: Buffer; errorType?: string };

function validate(o: FcGatewayOptions): void {
  const seen = new Set<string>();
  for (const [i, f] of o.functions.entries()) {
    const field = `functions[${i}]`;
    const key = `${f.serviceName}/${f.functionName}`;
    if (seen.has(key)) throw new InvalidInputError(field, `duplicate function ${key}`, 'give each function a unique service/function name');
    seen.add(key);
    if (!(f.timeoutSeconds > 0 && f.timeoutSeconds <= FC.MAX_TIMEOUT_SECONDS)) {
      throw new InvalidInputError(`${field}.timeoutSeconds`, `is ${f.timeoutSeconds}`, `use 1..${FC.MAX_TIMEOUT_SECONDS}`);
    }
    if (!(Number.isInteger(f.instanceConcurrency) && f.instanceConcurrency >= 1 && f.instanceConcurrency <= FC.MAX_INSTANCE_CONCURRENCY)) {
      throw new InvalidInputError(`${field}.instanceConcurrency`, `is ${f.instanceConcurrency}`, `use an integer 1..${FC.MAX_INSTANCE_CONCURRENCY}`);
    }
    if (!(Number.isInteger(f.maxInstances) && f.maxInstances >= 1)) {
      throw new InvalidInputError(`${field}.maxInstances`, `is ${f.maxInstances}`, 'use an integer ≥ 1');
    }
    if (f.instances.kind === 'external' && f.instances.urls.length === 0) {
      throw new InvalidInputError(`${field}.instances.urls`, 'is empty', 'give at least one runtime base URL');
    }
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'tooLarge' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, status: number, code: string, message: string, requestId: string): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ ErrorCode: code, ErrorMessage: message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-fc-request-id': requestId,
  });
  res.end(body);
}

export async function startFcGateway(options: FcGatewayOptions): Promise<RunningFcGateway> {
  validate(options);
  const logger = options.logger ?? createLogger({ component: 'fc-gateway' });
  const region = options.region ?? 'cn-hangzhou';
  const startTimeoutMs = options.instanceStartTimeoutMs ?? 30_000;
  const onOutput =
    options.onInstanceOutput ??
    ((line: string, meta: { function: string; instanceId: string }) =>
      process.stderr.write(`[${meta.function}#${meta.instanceId}] ${line}\n`));
  const agent = new Agent({ keepAlive: true });
  const closing = new AbortController();
  const background = new Set<Promise<void>>();

  const pools = new Map<string, FunctionPool>();
  for (const spec of options.functions) {
    const name = `${spec.serviceName}/${spec.functionName}`;
    const provider: InstanceProvider =
      spec.instances.kind === 'process'
        ? processProvider({
            command: spec.instances.command,
            args: spec.instances.args,
            ...(spec.instances.cwd !== undefined ? { cwd: spec.instances.cwd } : {}),
            env: spec.env ?? {},
            startTimeoutMs,
            ...(spec.lifecycle?.preStop ? { preStopTimeoutMs: spec.lifecycle.preStop.timeoutSeconds * 1000 } : {}),
            functionName: name,
            onOutput,
          })
        : externalProvider(spec.instances.urls, startTimeoutMs);
    pools.set(name, createPool(spec, provider, logger));
  }

  /** The x-fc-* headers FC sends to a custom container (FC docs: custom container, common request headers). */
  function instanceHeaders(spec: LocalFunctionSpec, requestId: string, qualifier: string, controlPath: string) {
    const c = options.credentialsForFunctions;
    const h: Record<string, string> = {
      'x-fc-request-id': requestId,
      'x-fc-access-key-id': c.accessKeyId,
      'x-fc-access-key-secret': c.accessKeySecret,
      'x-fc-function-handler': spec.handler ?? 'index.handler',
      'x-fc-function-memory': String(spec.memoryMb),
      'x-fc-region': region,
      'x-fc-account-id': options.accountId,
      'x-fc-qualifier': qualifier,
      'x-fc-function-name': spec.functionName,
      'x-fc-service-name': spec.serviceName,
      'x-fc-control-path': controlPath,
      [TIMEOUT_HEADER]: String(spec.timeoutSeconds),
    };
    if (c.securityToken !== undefined) h['x-fc-security-token'] = c.securityToken;
    if (spec.initializer !== undefined) h['x-fc-function-initializer'] = spec.initializer;
    return h;
  }

  /** One HTTP exchange with an instance, bounded by `timeoutMs`. */
  function callInstance(
    inst: Instance,
    path: string,
    headers: Record<string, string>,
    body: Buffer,
    timeoutMs: number,
  ): Promise<{ kind: 'response'; status: number; fcStatus?: string; contentType?: string; body: Buffer } | { kind: 'timeout' } | { kind: 'failed'; error: Error }> {
    return new Promise((resolve) => {
      const req = httpRequest(`${inst.baseUrl}${path}`, {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': body.length },
      });
      const timer = setTimeout(() => {
        resolve({ kind: 'timeout' });
        // Hanging up is how the runtime learns of the timeout: it aborts context.signal (server.ts).
        req.destroy();
      }, timeoutMs);
      const onAbort = () => req.destroy(new Error('gateway closing'));
      closing.signal.addEventListener('abort', onAbort, { once: true });
      const done = (v: Parameters<typeof resolve>[0]) => {
        clearTimeout(timer);
        closing.signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out: { kind: 'response'; status: number; fcStatus?: string; contentType?: string; body: Buffer } = {
            kind: 'response',
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
          };
          const fcStatus = res.headers['x-fc-status'];
          if (typeof fcStatus === 'string') out.fcStatus = fcStatus;
          if (res.headers['content-type'] !== undefined) out.contentType = res.headers['content-type'];
          done(out);
        });
        res.on('error', (error) => done({ kind: 'failed', error }));
      });
      req.on('error', (error) => done({ kind: 'failed', error }));
      req.end(body);
    });
  }

  function functionError(errorType: string, errorMessage: string): Outcome {
    return {
      kind: 'result',
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify({ errorMessage, errorType, retryable: false })),
      errorType: 'UnhandledInvocationError',
    };
  }

  async function ensureInitialized(pool: FunctionPool, slot: Slot, inst: Instance, requestId: string, qualifier: string): Promise<Outcome | undefined> {
    if (pool.spec.initializer === undefined || slot.initialized) return undefined;
    // Initializer runs at most once per instance at a time; FC retries it until it succeeds.
    slot.initializing ??= (async () => {
      const r = await callInstance(inst, '/initialize', instanceHeaders(pool.spec, requestId, qualifier, '/initialize'), Buffer.alloc(0), pool.spec.timeoutSeconds * 1000);
      if (r.kind === 'response' && r.status === 200) slot.initialized = true;
      else throw new Error(r.kind === 'response' ? r.body.toString('utf8') : r.kind === 'timeout' ? 'initializer timed out' : r.error.message);
    })().finally(() => {
      slot.initializing = undefined;
    });
    try {
      await slot.initializing;
      return undefined;
    } catch (err) {
      return functionError('InitializationError', (err as Error).message);
    }
  }

  async function invokeOnce(pool: FunctionPool, event: Buffer, requestId: string, qualifier: string): Promise<Outcome> {
    const spec = pool.spec;
    const slot = pool.tryAcquire();
    if (slot === undefined) {
      pool.stats.throttled++;
      return {
        kind: 'throttled',
        message: `Rate exceeded: ${spec.serviceName}/${spec.functionName} is at maxInstances ${spec.maxInstances} × instanceConcurrency ${spec.instanceConcurrency}`,
      };
    }
    try {
      let inst: Instance;
      try {
        inst = await slot.ready;
      } catch (err) {
        return { kind: 'notStarted', message: (err as Error).message };
      }
      const initFailure = await ensureInitialized(pool, slot, inst, requestId, qualifier);
      if (initFailure !== undefined) {
        pool.stats.functionErrors++;
        return initFailure;
      }
      const r = await callInstance(inst, '/invoke', instanceHeaders(spec, requestId, qualifier, '/invoke'), event, spec.timeoutSeconds * 1000);
      if (r.kind === 'timeout') {
        pool.stats.timeouts++;
        pool.stats.functionErrors++;
        // A timed-out process may be wedged: replace it (external instances are not ours to replace).
        if (inst.stoppable) pool.retire(slot);
        return functionError('FunctionTimeout', `Function timed out after ${spec.timeoutSeconds} seconds`);
      }
      if (r.kind === 'failed') {
        pool.stats.functionErrors++;
        if (inst.stoppable) pool.retire(slot);
        return functionError('InstanceExited', `Process exited unexpectedly before completing request: ${r.error.message}`);
      }
      // Only x-fc-status marks a failure; without it FC records success whatever the status code.
      const failed = r.fcStatus !== undefined && Number(r.fcStatus) >= 400;
      if (failed) pool.stats.functionErrors++;
      else pool.stats.succeeded++;
      const out: Outcome = { kind: 'result', body: r.body };
      if (r.contentType !== undefined) out.contentType = r.contentType;
      if (failed) out.errorType = 'UnhandledInvocationError';
      return out;
    } finally {
      pool.release(slot);
    }
  }

  function respond(res: ServerResponse, outcome: Outcome, requestId: string): void {
    if (outcome.kind === 'throttled') return sendError(res, 429, 'ResourceExhausted', outcome.message, requestId);
    // Status for an instance that never started is UNCONFIRMED; FC's body code is FunctionNotStarted.
    if (outcome.kind === 'notStarted') return sendError(res, 502, 'FunctionNotStarted', outcome.message, requestId);
    const headers: Record<string, string | number> = { 'x-fc-request-id': requestId, 'content-length': outcome.body.length };
    // fc2 JSON-parses any application/json body, and an empty one throws: never pair them.
    if (outcome.contentType !== undefined && outcome.body.length > 0) headers['content-type'] = outcome.contentType;
    if (outcome.errorType !== undefined) headers['x-fc-error-type'] = outcome.errorType;
    res.writeHead(200, headers);
    res.end(outcome.body);
  }

  /** FC's async path: throttling/start failures retried with binary backoff, function errors asyncRetryAttempts times. */
  async function runAsync(pool: FunctionPool, event: Buffer, requestId: string, qualifier: string): Promise<void> {
    const spec = pool.spec;
    const maxFunctionRetries = spec.asyncRetryAttempts ?? 2;
    const startedAt = Date.now();
    let functionAttempts = 0;
    let throttledRetries = 0;
    let delay = 500;
    for (;;) {
      const outcome = await invokeOnce(pool, event, requestId, qualifier);
      let result: AsyncResult | undefined;
      if (outcome.kind === 'result') functionAttempts++;
      else throttledRetries++;
      const base = { service: spec.serviceName, function: spec.functionName, requestId, attempts: functionAttempts, throttledRetries };
      if (outcome.kind === 'result') {
        if (outcome.errorType === undefined) result = { ...base, ok: true, body: outcome.body.toString('utf8') };
        else if (functionAttempts > maxFunctionRetries || closing.signal.aborted) {
          result = { ...base, ok: false, errorType: outcome.errorType, body: outcome.body.toString('utf8') };
        }
      } else if (closing.signal.aborted || Date.now() - startedAt > 10 * 60_000) {
        result = { ...base, ok: false, errorType: outcome.kind === 'throttled' ? 'ResourceExhausted' : 'FunctionNotStarted', body: outcome.message };
      }
      if (result !== undefined) {
        logger.info('async invocation finished', { ...result, body: undefined });
        options.onAsyncResult?.(result);
        return;
      }
      await sleep(delay, undefined, { signal: closing.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 8000);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = INVOKE_PATH.exec(path);
    if (req.method !== 'POST' || match === null) {
      req.resume();
      const what = path.startsWith(API_PREFIX) ? 'only InvokeFunction is served' : 'not an FC 2016-08-15 API path';
      return sendError(res, 404, 'PathNotSupported', `${req.method} ${path}: ${what} by the local FC gateway`, requestId);
    }
    const isAsync = String(req.headers['x-fc-invocation-type'] ?? '').toLowerCase() === 'async';
    const body = await readBody(req, isAsync ? FC.MAX_ASYNC_PAYLOAD : FC.MAX_SYNC_PAYLOAD);
    const check = verifyFcSignature({
      method: req.method,
      pathWithVersion: path,
      headers: req.headers,
      accessKeyId: options.accessKeyId,
      accessKeySecret: options.accessKeySecret,
    });
    if (!check.ok) return sendError(res, check.status, check.code, check.message, requestId);
    if (req.headers['x-fc-account-id'] !== options.accountId) {
      return sendError(res, 403, 'AccessDenied', `account ${String(req.headers['x-fc-account-id'])} is not this gateway's account`, requestId);
    }
    if (body === 'tooLarge') {
      const limit = isAsync ? FC.MAX_ASYNC_PAYLOAD : FC.MAX_SYNC_PAYLOAD;
      return sendError(res, 400, 'EntityTooLarge', `payload exceeds ${limit} bytes for ${isAsync ? 'async' : 'sync'} invocation`, requestId);
    }
    const md5 = req.headers['content-md5'];
    if (typeof md5 === 'string' && md5 !== fcContentMd5(body)) {
      return sendError(res, 400, 'InvalidArgument', 'Content-MD5 does not match the body', requestId);
    }
    const [svcPart = '', fn = ''] = [match[1], match[2]];
    const dot = svcPart.indexOf('.');
    const service = dot >= 0 ? svcPart.slice(0, dot) : svcPart;
    const qualifier = dot >= 0 ? svcPart.slice(dot + 1) : 'LATEST';
    const pool = pools.get(`${service}/${fn}`);
    if (pool === undefined) {
      const known = [...pools.values()].some((p) => p.spec.serviceName === service);
      return known
        ? sendError(res, 404, 'FunctionNotFound', `function '${fn}' does not exist in service '${service}'`, requestId)
        : sendError(res, 404, 'ServiceNotFound', `service '${service}' does not exist`, requestId);
    }
    pool.stats.invocations++;
    if (isAsync) {
      pool.stats.asyncAccepted++;
      const p = runAsync(pool, body, requestId, qualifier)
        .catch((err: unknown) => logger.error('async invocation crashed', { requestId, error: errorToJson(err) }))
        .finally(() => background.delete(p));
      background.add(p);
      // Async invoke: 202, x-fc-request-id, empty body without a JSON content-type.
      res.writeHead(202, { 'x-fc-request-id': requestId, 'content-length': 0 });
      res.end();
      return;
    }
    respond(res, await invokeOnce(pool, body, requestId, qualifier), requestId);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error('gateway request failed', { error: errorToJson(err) });
      sendError(res, 500, 'InternalServerError', (err as Error).message, 'unknown');
    });
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  const endpoint = `http://${host}:${port}`;
  logger.info('fc gateway listening', { endpoint, functions: [...pools.keys()] });

  return {
    endpoint,
    accountId: options.accountId,
    stats() {
      const out: Record<string, FunctionStats> = {};
      for (const [k, p] of pools) out[k] = p.snapshot();
      return out;
    },
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.allSettled([...pools.values()].map((p) => p.close()));
      await Promise.allSettled([...background]);
      await closed;
      agent.destroy();
    },
  };
}
