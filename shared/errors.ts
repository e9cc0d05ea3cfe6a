/**
 * Named error classes. Every error ossferry raises on purpose is an OssferryError with a stable
 * `code` (for logs, reports and tests) and, where it wraps a lower-level failure, a `cause`.
 * Modules define their own subclasses next to the code that throws them; these are the shared ones.
 */
export class OssferryError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input: names the offending field and how to fix it. Never retried. */
export class InvalidInputError extends OssferryError {
  readonly field: string;
  constructor(field: string, problem: string, fix: string, options?: { cause?: unknown }) {
    super('InvalidInput', `${field}: ${problem}. Fix: ${fix}`, options);
    this.field = field;
  }
}

/** A source or destination does not match what the job expected (changed mid-copy, CRC mismatch). */
export class IntegrityError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Integrity', message, options);
  }
}

/** Plain-data view of an error for JSON logs and wire responses (no stack, no secrets). */
export function errorToJson(err: unknown): { name: string; code?: string; message: string; cause?: unknown } {
  if (err instanceof Error) {
    const out: { name: string; code?: string; message: string; cause?: unknown } = {
      name: err.name,
      message: err.message,
    };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
    if (err.cause !== undefined) out.cause = errorToJson(err.cause);
    return out;
  }
  return { name: 'NonError', message: String(err) };
}
