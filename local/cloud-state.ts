/**
 * How other commands find a running `ossferry local cloud`: it writes `<data-dir>/local-cloud.json` (mode 0600:
 * it holds the local credentials) once everything is up, and removes it when it closes. A reader checks that
 * the process that wrote it is still alive, so a file left by a killed cloud is reported as "not running".
 */
import { readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { OssferryError } from '../shared/errors.ts';

export const CLOUD_STATE_FILE = 'local-cloud.json';

const credentials = z.object({ accessKeyId: z.string(), accessKeySecret: z.string() });

export const cloudStateSchema = z.object({
  version: z.literal(1),
  pid: z.number().int().positive(),
  startedAt: z.string(),
  dataDir: z.string(),
  oss: credentials.extend({ endpoint: z.string(), region: z.string() }),
  fc: credentials.extend({
    endpoint: z.string(),
    accountId: z.string(),
    region: z.string(),
    securityToken: z.string(),
    serviceName: z.string(),
    coordinatorFunction: z.string(),
    workerFunction: z.string(),
    coordinatorTimeoutSeconds: z.number().int().positive(),
  }),
  httpSource: z.object({ origin: z.string(), root: z.string().optional() }),
  statusLocation: z.string(),
  buckets: z.array(z.string()),
  archiveRules: z.array(z.record(z.string(), z.unknown())),
});

export type CloudState = z.infer<typeof cloudStateSchema>;

/** Why no running cloud could be found; `fix` says what to run. */
export class NoLocalCloudError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NoLocalCloud', message, options);
  }
}

export const cloudStatePath = (dataDir: string) => path.join(dataDir, CLOUD_STATE_FILE);

/** Whether a process with this id exists (signal 0 tests without signalling; EPERM means it exists). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Written to a temp name and renamed, so a reader never sees half a file. */
export async function writeCloudState(state: CloudState): Promise<string> {
  const file = cloudStatePath(state.dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

export async function removeCloudState(dataDir: string): Promise<void> {
  await rm(cloudStatePath(dataDir), { force: true });
}

/** The state of the cloud running on `dataDir`; NoLocalCloudError when there is none (or it was killed). */
export async function readCloudState(dataDir: string): Promise<CloudState> {
  const file = cloudStatePath(dataDir);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new NoLocalCloudError(`no local cloud is running on ${dataDir} (${file}: ${e.code ?? e.message})`, { cause: e });
  });
  let state: CloudState;
  try {
    state = cloudStateSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new NoLocalCloudError(`${file} is not a local cloud state file`, { cause: e });
  }
  if (!processAlive(state.pid)) throw new NoLocalCloudError(`the local cloud that wrote ${file} (pid ${state.pid}) is no longer running`);
  return state;
}

/** The live cloud on `dataDir`, or undefined (no file, unreadable file, or its process gone). */
export async function runningCloudState(dataDir: string): Promise<CloudState | undefined> {
  return readCloudState(dataDir).catch((e: unknown) => {
    if (e instanceof NoLocalCloudError) return undefined;
    throw e;
  });
}
