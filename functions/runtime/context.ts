/**
 * Builds the handler context from the `x-fc-*` headers of an FC custom-container request
 * (FC docs: custom container, common request headers). Pure: no I/O.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/log.ts';
import type { FcContext } from './types.ts';

/**
 * Function timeout header. Real FC sends no documented timeout header; the local gateway sends this one, and the runtime otherwise falls back to its
 * configured default (env in the image, see functions/main.ts).
 */
export const TIMEOUT_HEADER = 'x-fc-function-timeout';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function positiveNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export interface ContextInputs {
  headers: IncomingHttpHeaders;
  /** Receipt time (epoch ms), the start of the function timeout. */
  nowMs: number;
  /** Used when the request carries no timeout header. */
  defaultTimeoutSeconds: number;
  logger: Logger;
  signal: AbortSignal;
}

export function contextFromHeaders(input: ContextInputs): FcContext {
  const h = input.headers;
  const requestId = header(h, 'x-fc-request-id') ?? randomUUID();
  const timeoutSeconds = positiveNumber(header(h, TIMEOUT_HEADER)) ?? input.defaultTimeoutSeconds;
  const securityToken = header(h, 'x-fc-security-token');
  const ctx: FcContext = {
    requestId,
    credentials: {
      accessKeyId: header(h, 'x-fc-access-key-id') ?? '',
      accessKeySecret: header(h, 'x-fc-access-key-secret') ?? '',
      ...(securityToken !== undefined ? { securityToken } : {}),
    },
    region: header(h, 'x-fc-region') ?? '',
    accountId: header(h, 'x-fc-account-id') ?? '',
    service: stripUndefined({
      name: header(h, 'x-fc-service-name') ?? '',
      logProject: header(h, 'x-fc-service-logproject'),
      logStore: header(h, 'x-fc-service-logstore'),
      qualifier: header(h, 'x-fc-qualifier'),
      versionId: header(h, 'x-fc-version-id'),
    }),
    function: stripUndefined({
      name: header(h, 'x-fc-function-name') ?? '',
      handler: header(h, 'x-fc-function-handler'),
      memoryMb: positiveNumber(header(h, 'x-fc-function-memory')) ?? 0,
      timeoutSeconds,
      initializer: header(h, 'x-fc-function-initializer'),
    }),
    deadlineMs: input.nowMs + timeoutSeconds * 1000,
    logger: input.logger.child({ requestId }),
    signal: input.signal,
  };
  return ctx;
}

/** exactOptionalPropertyTypes-friendly: optional fields are absent, not `undefined`. */
function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
