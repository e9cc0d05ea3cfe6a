/**
 * Container entrypoint: one image serves both functions, the role chosen by OSSFERRY_ROLE (issue 4).
 * The runtime starts listening first and the role's handler module loads in parallel, so FC's readiness
 * probe (a TCP connect to caPort) succeeds within milliseconds; an invocation that
 * arrives before the module has loaded simply waits for it. The two `import()` literals stay static strings
 * so esbuild bundles both handlers into the one image.
 */
import { InvalidInputError, errorToJson } from '../shared/errors.ts';
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { createLogger } from '../shared/log.ts';
import { startRuntime } from './runtime/server.ts';
import type { Handler } from './runtime/types.ts';

type Role = 'coordinator' | 'worker';

function parseRole(value: string | undefined): Role {
  if (value === 'coordinator' || value === 'worker') return value;
  throw new InvalidInputError(
    FUNCTION_ENV.ROLE,
    value === undefined || value === '' ? 'is not set' : `is "${value}", not a known role`,
    `set ${FUNCTION_ENV.ROLE}=coordinator or ${FUNCTION_ENV.ROLE}=worker in the function's environment`,
  );
}

async function loadHandler(role: Role): Promise<Handler> {
  switch (role) {
    case 'coordinator':
      return (await import('./coordinator/handler.ts')).handler;
    case 'worker':
      return (await import('./worker/handler.ts')).handler;
  }
}

/** Worker deadlines come from the configured function timeout when FC sends no timeout header (context.ts). */
function defaultTimeoutSeconds(role: Role): number | undefined {
  if (role !== 'worker') return undefined;
  const n = Number(process.env[FUNCTION_ENV.WORKER_TIMEOUT_SECONDS]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

async function main(): Promise<void> {
  const role = parseRole(process.env[FUNCTION_ENV.ROLE]);
  const logger = createLogger({ role });
  // Listen first, then load: module loading (ali-oss, zod, …) runs on this thread and would otherwise delay
  // the listen() until the whole handler graph is compiled.
  let resolveHandler!: (h: Handler) => void;
  const loaded = new Promise<Handler>((resolve) => (resolveHandler = resolve));
  const timeout = defaultTimeoutSeconds(role);
  const runtime = await startRuntime({
    handler: async (event, ctx) => (await loaded)(event, ctx),
    logger,
    ...(timeout !== undefined ? { defaultTimeoutSeconds: timeout } : {}),
  });
  loadHandler(role).then(resolveHandler, (err: unknown) => {
    logger.error('handler module failed to load', { error: errorToJson(err) });
    process.exit(1);
  });
  const stop = (sig: string) => {
    logger.info('shutting down', { signal: sig });
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // One JSON line on stderr, naming the env var for a bad role (InvalidInputError message).
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'ossferry function failed to start', error: errorToJson(err) }) + '\n');
  process.exit(1);
});
