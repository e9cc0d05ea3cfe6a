import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { taskFailure } from '../../functions/worker/fc-deps.ts';
import { HandlerError } from '../../functions/runtime/types.ts';
import { SourceChangedError, SourceUnavailableError } from '../../functions/sources/types.ts';

describe('taskFailure (how the worker handlers answer a failed copy or archive task)', () => {
  it('turns an ossferry error into a HandlerError with its code, message, cause and retryable classification', () => {
    // Prepare
    const transient = new SourceUnavailableError('origin returned 503');
    const fatal = new SourceChangedError('ETag changed');
    // Act
    const a = taskFailure(transient);
    const b = taskFailure(fatal);
    // Assess
    expect(a).toBeInstanceOf(HandlerError);
    expect(a).toMatchObject({ code: 'SourceUnavailable', message: 'origin returned 503', retryable: true, cause: transient });
    expect(b).toBeInstanceOf(HandlerError);
    expect(b).toMatchObject({ code: 'SourceChanged', message: 'ETag changed', retryable: false, cause: fatal });
  });

  it('passes bad input, HandlerErrors and foreign errors through unchanged', () => {
    // Prepare
    const input = new InvalidInputError('task.uploadId', 'is empty', 'send the UploadId');
    const handled = new HandlerError('PartFailed', 'part 3 failed', { retryable: true });
    const foreign = new TypeError('not ours');
    // Act
    const out = [input, handled, foreign].map(taskFailure);
    // Assess
    expect(out[0]).toBe(input);
    expect(out[1]).toBe(handled);
    expect(out[2]).toBe(foreign);
  });
});
