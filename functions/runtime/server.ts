/**
 * FC 2.0 custom-container runtime: the HTTP server FC talks to inside the container
 * (FC docs: custom container HTTP server). Routes:
 *   POST /invoke      raw event (octet-stream) → handler result as JSON; failure → 404 + `x-fc-status: 404`
 *   POST /initialize  runs the initializer once per instance (retried by FC until it succeeds)
 *   GET  /pre-freeze  nothing to flush; 200
 *   GET  /pre-stop    aborts every context.signal, waits (bounded) for in-flight invocations; 200
 * context.signal also aborts when the caller hangs up (FC/gateway timeout) and at context.deadlineMs.
 * It listens on 0.0.0.0:<caPort> (127.0.0.1 makes FC fail with FunctionNotStarted). Only node: builtins
 * and shared/ are imported so the server is listening within milliseconds of process start.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../../shared/log.ts';
import { errorToJson } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { bigintAsDecimal } from '../../shared/json.ts';
import { FC } from '../../shared/limits.ts';
import { contextFromHeaders } from './context.ts';
import { listen } from './listen.ts';
import { HandlerError, type FunctionErrorBody, type Handler, type Initializer } from './types.ts';

/**
 * Listen address override. FC needs 0.0.0.0; the local gateway sets 127.0.0.1 so tests and local runs
 * stay on loopback. Not an FC variable, hence not in shared/function-env.ts.
 */
export const RUNTIME_HOST_ENV = 'FC_SERVER_HOST';

/** How long after context.deadlineMs the runtime itself aborts context.signal. */
export const DEADLINE_GRACE_MS = 1000;

export interface RuntimeOptions {
  handler: Handler;
  /** Default: env FC_SERVER_PORT, else 9000 (FC's caPort default). 0 picks a free port. */
  port?: number;
  /** Default: env FC_SERVER_HOST, else 0.0.0.0. */
  host?: string;
  /** Runs on POST /initialize (FC calls it only when the function has an `initializer`). */
  initialize?: Initializer;
  /** Timeout used for `deadlineMs` when the request has no x-fc-function-timeout header. Default 86400 s. */
  defaultTimeoutSeconds?: number;
  /** Base logger; default JSON lines on stdout. */
  logger?: Logger;
  /** Where the `FC Invoke Start/End RequestId` markers go; default stdout. */
  writeMarker?: (line: string) => void;
  /** Upper bound on how long /pre-stop waits for in-flight invocations. Default 10 s. */
  preStopGraceMs?: number;
}

export interface RunningRuntime {
  port: number;
  /** Aborts in-flight invocations and stops listening. */
  close(): Promise<void>;
  /** Aborted on pre-stop and close; also what every context.signal follows. */
  readonly signal: AbortSignal;
}

function resolvePort(option: number | undefined): number {
  if (option !== undefined) return option;
  const env = process.env[FUNCTION_ENV.PORT];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 0 && n < 65536) return n;
  }
  return FC.DEFAULT_CA_PORT;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HandlerError('EntityTooLarge', `event larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** bigint results go out as decimal strings, the project's wire form for CRC-64 (docs/CONVENTIONS.md). */
function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, bigintAsDecimal);
}

export function functionErrorBody(err: unknown): FunctionErrorBody {
  const json = errorToJson(err);
  const body: FunctionErrorBody = {
    errorMessage: json.message,
    errorType: json.name,
    retryable: err instanceof HandlerError ? err.retryable : (err as { retryable?: unknown })?.retryable === true,
  };
  if (json.code !== undefined) body.code = json.code;
  if (err instanceof HandlerError && err.details !== undefined) body.details = err.details;
  if (json.cause !== undefined) body.cause = json.cause;
  return body;
}

function send(res: ServerResponse, status: number, body: string, fcStatus?: number): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  // Without x-fc-status FC records the call as a success, so set it both ways.
  if (fcStatus !== undefined) headers['x-fc-status'] = fcStatus;
  res.writeHead(status, headers);
  res.end(body);
}

export async function startRuntime(options: RuntimeOptions): Promise<RunningRuntime> {
  const logger = options.logger ?? createLogger({ component: 'fc-runtime' });
  const writeMarker = options.writeMarker ?? ((line: string) => process.stdout.write(line + '\n'));
  const defaultTimeoutSeconds = options.defaultTimeoutSeconds ?? FC.MAX_TIMEOUT_SECONDS;
  const preStopGraceMs = options.preStopGraceMs ?? 10_000;
  const lifetime = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  let initialized: Promise<void> | undefined;
  let initDone = false;

  async function onInvoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const perRequest = new AbortController();
    // The caller (gateway / FC) hanging up ends the invocation: FC does so on function timeout.
    res.on('close', () => {
      if (!res.writableFinished) perRequest.abort(new Error('invocation connection closed'));
    });
    const signal = AbortSignal.any([lifetime.signal, perRequest.signal]);
    const ctx = contextFromHeaders({ headers: req.headers, nowMs: receivedAt, defaultTimeoutSeconds, logger, signal });
    writeMarker(`FC Invoke Start RequestId: ${ctx.requestId}`);
    // Past the deadline FC has already failed the call (and normally hung up, which aborts too); stop the
    // handler's work rather than leave it running. The grace keeps the platform's own timeout first, so a
    // handler that answers on abort cannot race a late success past it.
    const deadlineTimer = setTimeout(
      () => perRequest.abort(new Error(`function timeout of ${ctx.function.timeoutSeconds} s reached`)),
      Math.min(Math.max(0, ctx.deadlineMs - Date.now()) + DEADLINE_GRACE_MS, 2 ** 31 - 1),
    );
    deadlineTimer.unref();
    try {
      const event = await readBody(req, FC.MAX_SYNC_PAYLOAD);
      if (options.initialize !== undefined && !initDone) await runInitialize(ctx);
      const result = await options.handler(event, ctx);
      send(res, 200, toJson(result), 200);
      ctx.logger.info('invocation succeeded', { durationMs: Date.now() - receivedAt });
    } catch (err) {
      ctx.logger.error('invocation failed', { durationMs: Date.now() - receivedAt, error: errorToJson(err) });
      send(res, 404, toJson(functionErrorBody(err)), 404);
    } finally {
      clearTimeout(deadlineTimer);
      writeMarker(`FC Invoke End RequestId: ${ctx.requestId}`);
    }
  }

  function runInitialize(ctx: ReturnType<typeof contextFromHeaders>): Promise<void> {
    const init = options.initialize;
    if (init === undefined || initDone) return Promise.resolve();
    // One initializer run at a time; a failed run is forgotten so FC's retry runs it again.
    initialized ??= init(ctx).then(
      () => {
        initDone = true;
      },
      (err: unknown) => {
        initialized = undefined;
        throw err;
      },
    );
    return initialized;
  }

  async function onInitialize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = contextFromHeaders({
      headers: req.headers,
      nowMs: Date.now(),
      defaultTimeoutSeconds,
      logger,
      signal: lifetime.signal,
    });
    req.resume();
    try {
      await runInitialize(ctx);
      send(res, 200, toJson({ initialized: true }), 200);
      ctx.logger.info('initialized');
    } catch (err) {
      ctx.logger.error('initializer failed', { error: errorToJson(err) });
      send(res, 404, toJson(functionErrorBody(err)), 404);
    }
  }

  async function onPreStop(res: ServerResponse): Promise<void> {
    logger.info('pre-stop: aborting in-flight invocations', { inFlight: inFlight.size });
    await abortInFlight('instance is stopping (pre-stop)');
    send(res, 200, toJson({ stopped: true }), 200);
  }

  /** Aborts the in-flight invocations (their signal) and waits for them to settle, at most preStopGraceMs. */
  async function abortInFlight(reason: string): Promise<void> {
    lifetime.abort(new Error(reason));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...inFlight]),
      new Promise((r) => {
        timer = setTimeout(r, preStopGraceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let work: Promise<unknown>;
    if (req.method === 'POST' && path === '/invoke') work = onInvoke(req, res);
    else if (req.method === 'POST' && path === '/initialize') work = onInitialize(req, res);
    else if (req.method === 'GET' && path === '/pre-stop') {
      req.resume();
      work = onPreStop(res);
    } else if (req.method === 'GET' && path === '/pre-freeze') {
      req.resume();
      logger.debug('pre-freeze');
      send(res, 200, toJson({ frozen: true }), 200);
      return;
    } else {
      req.resume();
      send(res, 404, toJson({ errorMessage: `no route ${req.method} ${path}`, errorType: 'NotFound' }));
      return;
    }
    const tracked = work.catch((err: unknown) => {
      logger.error('runtime route failed', { error: errorToJson(err) });
      send(res, 404, toJson(functionErrorBody(err)), 404);
    });
    if (path === '/invoke') {
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
    }
  });
  // Long invocations: no Node server-side request/idle timeouts (FC enforces the function timeout).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  const host = options.host ?? (process.env[RUNTIME_HOST_ENV] || '0.0.0.0');
  const port = resolvePort(options.port);
  const bound = await listen(server, port, host);
  logger.info('runtime listening', { host, port: bound });

  return {
    port: bound,
    signal: lifetime.signal,
    close: async () => {
      await abortInFlight('runtime closing');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
