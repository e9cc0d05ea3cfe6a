import { describe, expect, it } from 'vitest';
import { contextFromHeaders } from '../../functions/runtime/context.ts';
import { functionErrorBody } from '../../functions/runtime/server.ts';
import { HandlerError } from '../../functions/runtime/types.ts';
import { silentLogger } from '../../shared/log.ts';

const signal = new AbortController().signal;

describe('contextFromHeaders', () => {
  it('falls back to a generated request id, empty identity and the default timeout', () => {
    // Prepare
    const input = { headers: {}, nowMs: 1_000_000, defaultTimeoutSeconds: 600, logger: silentLogger, signal };
    // Act
    const ctx = contextFromHeaders(input);
    // Assess
    expect(ctx.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx.credentials).toEqual({ accessKeyId: '', accessKeySecret: '' });
    expect(ctx.service).toEqual({ name: '' });
    expect(ctx.function).toEqual({ name: '', memoryMb: 0, timeoutSeconds: 600 });
    expect(ctx.deadlineMs).toBe(1_000_000 + 600_000);
  });

  it('uses the timeout header and ignores an unusable one', () => {
    // Prepare
    const base = { nowMs: 0, defaultTimeoutSeconds: 60, logger: silentLogger, signal };
    // Act
    const good = contextFromHeaders({ ...base, headers: { 'x-fc-function-timeout': '7' } });
    const bad = contextFromHeaders({ ...base, headers: { 'x-fc-function-timeout': 'soon' } });
    const zero = contextFromHeaders({ ...base, headers: { 'x-fc-function-timeout': '0' } });
    // Assess
    expect([good.deadlineMs, bad.deadlineMs, zero.deadlineMs]).toEqual([7000, 60_000, 60_000]);
  });
});

describe('functionErrorBody', () => {
  it('carries code, retryable, details and cause of a HandlerError', () => {
    // Prepare
    const err = new HandlerError('PartFailed', 'part 3 failed', { retryable: true, details: { part: 3 }, cause: new Error('reset') });
    // Act
    const body = functionErrorBody(err);
    // Assess
    expect(body).toEqual({
      errorMessage: 'part 3 failed',
      errorType: 'HandlerError',
      code: 'PartFailed',
      retryable: true,
      details: { part: 3 },
      cause: { name: 'Error', message: 'reset' },
    });
  });

  it('honours a retryable flag on any error and reports non-errors', () => {
    // Prepare
    const flagged = Object.assign(new Error('flaky'), { retryable: true });
    // Act
    const a = functionErrorBody(flagged);
    const b = functionErrorBody('just a string');
    // Assess
    expect(a).toMatchObject({ errorMessage: 'flaky', errorType: 'Error', retryable: true });
    expect(b).toEqual({ errorMessage: 'just a string', errorType: 'NonError', retryable: false });
  });
});
