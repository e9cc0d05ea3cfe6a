/**
 * A tiny function for runtime/gateway tests, served by the same runtime as the real functions.
 * Run as a child process (`node test/helpers/echo-function.ts`, port from FC_SERVER_PORT) or import
 * `echoHandler` in-process. The JSON event steers it:
 *   { sleepMs?: n }                      wait n ms (aborts early if context.signal fires)
 *   { fail?: { code, message, retryable? } }  throw HandlerError
 *   { throwPlain?: "msg" }               throw a plain Error
 *   { exit?: code }                      kill the process mid-invocation
 *   { waitForAbort?: true }              resolve only when context.signal aborts, reporting the reason
 * and the answer echoes the event, the context (secrets reduced to booleans) and instance facts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HandlerError, type FcContext, type Handler, type Initializer } from '../../functions/runtime/types.ts';

export interface EchoEvent {
  sleepMs?: number;
  fail?: { code: string; message: string; retryable?: boolean };
  throwPlain?: string;
  exit?: number;
  waitForAbort?: boolean;
  [k: string]: unknown;
}

let invocations = 0;
let active = 0;
let initializedAt: number | undefined;

export const echoInitialize: Initializer = async () => {
  if (process.env.ECHO_INIT_FAIL === '1') throw new HandlerError('InitFailed', 'initializer asked to fail');
  initializedAt = Date.now();
};

export const echoHandler: Handler = async (event: Buffer, ctx: FcContext) => {
  invocations++;
  active++;
  try {
    const text = event.toString('utf8');
    const parsed: EchoEvent = text === '' ? {} : (JSON.parse(text) as EchoEvent);
    ctx.logger.info('echo invoked', { keys: Object.keys(parsed) });
    if (parsed.exit !== undefined) process.exit(parsed.exit);
    if (parsed.fail !== undefined) {
      throw new HandlerError(parsed.fail.code, parsed.fail.message, { retryable: parsed.fail.retryable ?? false });
    }
    if (parsed.throwPlain !== undefined) throw new Error(parsed.throwPlain);
    let abortReason: string | undefined;
    if (parsed.waitForAbort === true) {
      abortReason = await new Promise<string>((resolve) => {
        const done = () => resolve(String((ctx.signal.reason as Error | undefined)?.message ?? ctx.signal.reason));
        if (ctx.signal.aborted) done();
        else ctx.signal.addEventListener('abort', done, { once: true });
      });
    }
    if (parsed.sleepMs !== undefined) await sleep(parsed.sleepMs, undefined, { signal: ctx.signal }).catch(() => {});
    return {
      event: parsed,
      bytes: event.length,
      abortReason,
      instance: { pid: process.pid, invocations, activeAtReturn: active, initializedAt },
      context: {
        requestId: ctx.requestId,
        region: ctx.region,
        accountId: ctx.accountId,
        service: ctx.service,
        function: ctx.function,
        deadlineMs: ctx.deadlineMs,
        credentials: {
          accessKeyId: ctx.credentials.accessKeyId,
          accessKeySecret: ctx.credentials.accessKeySecret,
          securityToken: ctx.credentials.securityToken,
        },
        env: { role: process.env.OSSFERRY_ROLE, echoTag: process.env.ECHO_TAG },
      },
    };
  } finally {
    active--;
  }
};

// Entry point when run as a process (the gateway's child-process instances).
if (import.meta.main) {
  const { startRuntime } = await import('../../functions/runtime/server.ts');
  const runtime = await startRuntime({ handler: echoHandler, initialize: echoInitialize });
  const stop = () => void runtime.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
