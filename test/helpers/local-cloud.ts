/** Checks shared by the tests that run jobs over the local cloud (local/cloud.ts). */
import type OSS from 'ali-oss';
import { expect } from 'vitest';
import { FunctionInvocationError } from '../../functions/invoke/invoker.ts';
import type { FunctionErrorBody } from '../../functions/runtime/types.ts';

/** Multipart uploads still open in the client's bucket: a finished or failed job must leave none. */
export async function uploadsLeft(client: OSS): Promise<number> {
  const r = (await client.listUploads({ 'max-uploads': 1000 } as never)) as unknown as { uploads?: unknown[] };
  return r.uploads?.length ?? 0;
}

/** The function error body of an invocation that must fail (asserts that it did, with a structured body). */
export async function invocationFailure(p: Promise<unknown>): Promise<FunctionErrorBody> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FunctionInvocationError);
  const body = (err as FunctionInvocationError).body;
  expect(typeof body).toBe('object');
  return body as FunctionErrorBody;
}
