/**
 * Structured JSON-line logger. One line per event: {"ts","level","msg",...fields}.
 * `child({jobId})` binds fields so every line of a job carries its id (FC ships stdout to SLS,
 * where the logstore indexes these JSON fields). Values under keys that look secret are redacted
 * here, once, so no call site can leak a credential or a signed URL by accident.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /secret|password|passphrase|token|authorization|signature|privatekey|accesskey|credential/i;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

/** Removes query strings (signed URLs carry signatures there) and userinfo from a URL for logging. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}

export function createLogger(
  base: LogFields = {},
  options: { level?: LogLevel; sink?: LogSink } = {},
): Logger {
  const min = ORDER[options.level ?? ((process.env.OSSFERRY_LOG_LEVEL as LogLevel) || 'info')] ?? ORDER.info;
  const sink = options.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const record = redact({ ts: new Date().toISOString(), level, msg, ...base, ...fields });
    sink(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { level: options.level, sink }),
  };
}

/** A logger that drops everything (tests that do not assert on logs). */
export const silentLogger: Logger = createLogger({}, { sink: () => {} });
