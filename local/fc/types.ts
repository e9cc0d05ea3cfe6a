/**
 * Configuration and statistics of the local FC gateway (local/fc/gateway.ts).
 */
import type { FcCredentials } from '../../functions/runtime/types.ts';
import type { Logger } from '../../shared/log.ts';

export type InstanceSpec =
  /** Each instance is a child process; it gets FC_SERVER_PORT (a free port) and FC_SERVER_HOST=127.0.0.1. */
  | { kind: 'process'; command: string; args: string[]; cwd?: string }
  /** Already-running runtimes (e.g. containers with host networking), one base URL per instance. */
  | { kind: 'external'; urls: string[] };

export interface LocalFunctionSpec {
  serviceName: string;
  functionName: string;
  memoryMb: number;
  timeoutSeconds: number;
  instanceConcurrency: number;
  maxInstances: number;
  /** Stop an instance after this long without invocations (process instances only). Default 60 s. */
  idleTimeoutMs?: number;
  /** Extra environment for process instances (merged over the gateway's own environment). */
  env?: Record<string, string>;
  /** FC `handler` string, passed as x-fc-function-handler. Default "index.handler". */
  handler?: string;
  /** FC `initializer`: when set, each new instance gets POST /initialize before its first invocation. */
  initializer?: string;
  /**
   * The function's instanceLifecycleConfig. As in FC, GET /pre-stop is called before an instance is stopped and
   * GET /pre-freeze after an invocation leaves it idle ONLY when configured here; unset, no hook is called.
   */
  lifecycle?: FunctionLifecycle;
  /** Async retries after a function error (FC default: 2). */
  asyncRetryAttempts?: number;
  instances: InstanceSpec;
}

export interface FunctionLifecycle {
  preStop?: { timeoutSeconds: number };
  preFreeze?: { timeoutSeconds: number };
}

export interface InstanceOutputMeta {
  function: string;
  instanceId: string;
  stream: 'stdout' | 'stderr';
}

export interface FcGatewayOptions {
  accountId: string;
  accessKeyId: string;
  accessKeySecret: string;
  region?: string;
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Injected as x-fc-access-key-id / -secret / x-fc-security-token (the "STS" credentials of the service role). */
  credentialsForFunctions: FcCredentials;
  functions: LocalFunctionSpec[];
  logger?: Logger;
  /** Each line an instance writes; default: `[svc/fn#id] line` on the gateway's stderr. */
  onInstanceOutput?: (line: string, meta: InstanceOutputMeta) => void;
  /** Outcome of each async invocation once it has finished (after retries). */
  onAsyncResult?: (result: AsyncResult) => void;
  /** How long an instance may take to accept TCP connections. Default 30 s (FC's own start deadline is not documented exactly: 25 s to 120 s). */
  instanceStartTimeoutMs?: number;
}

export interface AsyncResult {
  service: string;
  function: string;
  requestId: string;
  ok: boolean;
  /** Times the function ran (1 + retries after function errors). */
  attempts: number;
  /** Times the attempt was throttled (429) or found no started instance; retried with backoff. */
  throttledRetries: number;
  /** x-fc-error-type of the last attempt, or the gateway error code (e.g. ResourceExhausted). */
  errorType?: string;
  body: string;
}

export interface FunctionStats {
  invocations: number;
  asyncAccepted: number;
  succeeded: number;
  functionErrors: number;
  throttled: number;
  timeouts: number;
  instancesStarted: number;
  instancesStopped: number;
  instancesReaped: number;
  instancesRunning: number;
  active: number;
  peakActive: number;
  /** Spawn (or first contact) → accepting connections, per instance start, ms. */
  startToReadyMs: number[];
}

export interface RunningFcGateway {
  /** http://127.0.0.1:<port>: pass as the fc2 client's `endpoint`. */
  endpoint: string;
  accountId: string;
  close(): Promise<void>;
  /** Keyed by "service/function". */
  stats(): Record<string, FunctionStats>;
}
