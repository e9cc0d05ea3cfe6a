/** Checks shared by the tests that run jobs over the local cloud (local/cloud.ts). */
import type OSS from 'ali-oss';

/** Multipart uploads still open in the client's bucket: a finished or failed job must leave none. */
export async function uploadsLeft(client: OSS): Promise<number> {
  const r = (await client.listUploads({ 'max-uploads': 1000 } as never)) as unknown as { uploads?: unknown[] };
  return r.uploads?.length ?? 0;
}
