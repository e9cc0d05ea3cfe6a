/** Checks shared by the tests that run jobs over the local cloud (local/cloud.ts). */
import type OSS from 'ali-oss';
import { expect } from 'vitest';
import { FunctionInvocationError } from '../../functions/invoke/invoker.ts';
import type { FunctionErrorBody } from '../../functions/runtime/types.ts';
import { ossEventBody } from '../../shared/events.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';

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

/** Puts `data` at bucket/key through `client` and returns the OSS trigger body FC would deliver for that write. */
export async function putWithEvent(client: OSS, bucket: string, key: string, data: Buffer, region: string): Promise<ReturnType<typeof ossEventBody>> {
  const put = await client.put(key, data);
  const eTag = String((put.res.headers as Record<string, string>).etag);
  return ossEventBody({ eventName: 'ObjectCreated:PutObject', bucket, key, size: data.length, eTag, region, accountId: '1234567890123456', eventTime: new Date() });
}

/** Resolves once `probe` holds (polled every `stepMs`); throws after `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 60_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * A local cloud with one archive rule, `move`: logs-src/move/… → ossferry/moved/…gz, the source deleted after a
 * verified archive; one worker instance.
 */
export function startMoveRuleCloud(): Promise<LocalCloud> {
  return startLocalCloud({
    buckets: ['ossferry', 'logs-src'],
    workers: { maxInstances: 1, instanceConcurrency: 1 },
    coordinatorEnv: {
      OSSFERRY_ARCHIVE_RULES: JSON.stringify([{ name: 'move', sourceBucket: 'logs-src', sourcePrefix: 'move/', destinationBucket: 'ossferry', destinationPrefix: 'moved/', deleteSourceAfterVerify: true }]),
    },
  });
}
