/**
 * The handler contract of the FC custom-container runtime (functions/runtime/server.ts). The coordinator
 * and worker each export `handler: Handler`; functions/main.ts picks one by OSSFERRY_ROLE and serves it.
 * The context is built from the `x-fc-*` request headers FC sends with every call
 * (FC docs: custom container, common request headers).
 */
import { OssferryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';

/** Temporary STS credentials of the service role (x-fc-access-key-id / -secret / x-fc-security-token). */
export interface FcCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

export interface FcContext {
  /** x-fc-request-id. */
  requestId: string;
  credentials: FcCredentials;
  /** x-fc-region. */
  region: string;
  /** x-fc-account-id. */
  accountId: string;
  /** x-fc-service-name / -logproject / -logstore, x-fc-qualifier, x-fc-version-id. */
  service: { name: string; logProject?: string; logStore?: string; qualifier?: string; versionId?: string };
  /** x-fc-function-name / -handler / -memory / -initializer; timeout see `deadlineMs`. */
  function: { name: string; handler?: string; memoryMb: number; timeoutSeconds: number; initializer?: string };
  /** epoch ms by which the invocation must answer (now + function timeout at receipt). */
  deadlineMs: number;
  /** shared/log.ts logger bound to { requestId }. */
  logger: Logger;
  /** Aborted on pre-stop / shutdown (and when the caller disconnects). */
  signal: AbortSignal;
}

/** An invocation handler. The event is the raw InvokeFunction payload; the result must be JSON-serialisable. */
export type Handler = (event: Buffer, context: FcContext) => Promise<unknown>;

/** Runs once per instance on POST /initialize (FC's initializer hook: 200 is success, 404 failure). */
export type Initializer = (context: FcContext) => Promise<void>;

/**
 * A failure the runtime reports as a function error: HTTP 404 + `x-fc-status: 404` with a JSON body
 * `{errorMessage, errorType, code, retryable, details?}` (FC treats only x-fc-status as failure; the body keys
 * follow the official runtimes' `{errorMessage, errorType, stackTrace}`). Any other thrown error is reported
 * the same way with `retryable: false` unless it carries `retryable: true`.
 */
export class HandlerError extends OssferryError {
  /** Whether the caller may retry the same invocation (e.g. a transient source failure). */
  readonly retryable: boolean;
  /** Extra JSON-serialisable data for the caller (e.g. the parts already done). */
  readonly details?: unknown;
  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; retryable?: boolean; details?: unknown },
  ) {
    super(code, message, options);
    this.retryable = options?.retryable ?? false;
    if (options?.details !== undefined) this.details = options.details;
  }
}

/** The JSON body of a function error as the runtime writes it and the invoker parses it. */
export interface FunctionErrorBody {
  errorMessage: string;
  errorType: string;
  code?: string;
  retryable: boolean;
  details?: unknown;
  cause?: unknown;
}
