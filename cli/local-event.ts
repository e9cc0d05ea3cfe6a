/**
 * `ossferry local event put oss://bucket/key`: finds the running `ossferry local cloud` through its state file
 * (local/cloud-state.ts), HEADs the object and hands the coordinator the OSS trigger event FC would deliver for
 * it (shared/events.ts ossEventBody), through fc2 and the local FC gateway, then prints the outcome.
 */
import path from 'node:path';
import OSS from 'ali-oss';
import type { Command } from 'commander';
import { InvalidInputError } from '../shared/errors.ts';
import { creationEventName, ossEventBody } from '../shared/events.ts';
import { parseOssUrl } from '../shared/job.ts';
import { silentLogger } from '../shared/log.ts';
import type { OssEventResult } from '../functions/coordinator/trigger.ts';
import { coordinatorInvoker } from '../local/cloud.ts';
import { NoLocalCloudError, readCloudState, type CloudState } from '../local/cloud-state.ts';
import { localOssClientOptions } from '../local/oss/client-options.ts';
import { describeFailure, err, out } from './output.ts';
import { localGroup } from './local-group.ts';


export interface EventPutFlags {
  dataDir?: string;
  eventName?: string;
  json?: boolean;
}

/** The object's facts as OSS reports them; a missing bucket or key is bad input naming the fix. */
async function headObject(s: CloudState, bucket: string, key: string): Promise<{ size: number; etag: string; objectType: string | undefined }> {
  const client = new OSS({ ...localOssClientOptions({ ...s.oss, port: Number(new URL(s.oss.endpoint).port) }, bucket), retryMax: 0 } as OSS.Options);
  try {
    const h = await client.head(key);
    const headers = h.res.headers as Record<string, string>;
    return { size: Number(headers['content-length']), etag: String(headers.etag), objectType: headers['x-oss-object-type'] };
  } catch (e) {
    let code = (e as { code?: string }).code;
    // A HEAD error has no body: ask the bucket itself whether it is the bucket or the key that is missing.
    if ((e as { status?: number }).status === 404) code = await client.getBucketInfo(bucket).then(() => 'NoSuchKey', (b: { code?: string }) => b.code ?? 'NoSuchKey');
    if (code === 'NoSuchBucket') {
      throw new InvalidInputError('target', `bucket ${bucket} does not exist in the local cloud on ${s.dataDir}`, `use one of its buckets (${s.buckets.join(', ')}), or restart it with --bucket ${bucket}`);
    }
    if (code === 'NoSuchKey') {
      throw new InvalidInputError('target', `oss://${bucket}/${key} does not exist`, `upload it first (e.g. ali-oss put against ${s.oss.endpoint}), then deliver its event`);
    }
    if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String((e as Error).message))) {
      throw new InvalidInputError('--data-dir', `the local cloud on ${s.dataDir} does not answer at ${s.oss.endpoint}`, `start it again with ossferry local cloud --data-dir ${s.dataDir}`, { cause: e });
    }
    throw e;
  }
}

function printEventResult(r: OssEventResult): void {
  for (const x of r.results) {
    const rep = x.report ?? {};
    const what = !x.ok ? `FAILED ${x.error?.code ?? x.error?.name ?? ''}: ${x.error?.message ?? ''}` : rep.alreadyArchived ? 'already archived (nothing uploaded)' : rep.inProgress ? 'in progress elsewhere (nothing uploaded)' : `archived, ${String(rep.size)} → ${String(rep.compressedSize)} bytes, CRC-64 ${String(rep.crc64)}`;
    out(`  ${x.source} → ${x.destination}: ${what}`);
  }
  for (const i of r.ignored) out(`  ignored: ${i.reason}`);
  out(`  archived ${r.archived}, already archived ${r.alreadyArchived}, in progress ${r.inProgress}, failed ${r.failed}, ignored ${r.ignored.length}`);
}

/** `ossferry local event put oss://bucket/key`: exit 0 when no record failed, 1 when one did. */
export async function eventPutCommand(target: string, o: EventPutFlags): Promise<number> {
  const loc = parseOssUrl(target);
  if (typeof loc === 'string') throw new InvalidInputError('target', `${JSON.stringify(target)} ${loc}`, 'use oss://bucket/key');
  if (o.dataDir === undefined) {
    throw new InvalidInputError('--data-dir', 'is required', 'pass the --data-dir of a running `ossferry local cloud` (it prints it)');
  }
  const dataDir = path.resolve(o.dataDir);
  const state = await readCloudState(dataDir).catch((e: unknown) => {
    if (!(e instanceof NoLocalCloudError)) throw e;
    throw new InvalidInputError('--data-dir', e.message, `start one with \`ossferry local cloud --data-dir ${o.dataDir}\` and keep it running, or pass the --data-dir it was started with`, { cause: e });
  });
  const object = await headObject(state, loc.bucket, loc.key);
  const body = ossEventBody({
    eventName: o.eventName ?? creationEventName(object.objectType),
    bucket: loc.bucket,
    key: loc.key,
    size: object.size,
    eTag: object.etag,
    region: state.oss.region,
    accountId: state.fc.accountId,
    eventTime: new Date(),
  });
  const invoker = coordinatorInvoker(state.fc, state.fc, state.fc.region, state.fc.coordinatorTimeoutSeconds, silentLogger);
  if (!o.json) err(`ossferry: delivering ${String(body.events[0]!.eventName)} for ${target} to ${state.fc.serviceName}/${state.fc.coordinatorFunction}`);
  let result: OssEventResult;
  try {
    result = await invoker.invoke<OssEventResult>(state.fc.serviceName, state.fc.coordinatorFunction, body);
  } catch (e) {
    err(describeFailure(e));
    return 1;
  }
  if (o.json) out(JSON.stringify({ event: body.events[0], ...result }));
  else printEventResult(result);
  return result.failed > 0 ? 1 : 0;
}

/** Adds `local event put` (creating the `local` group if needed). */
export function registerLocalEventCommands(program: Command): void {
  const local = localGroup(program);
  const event = local.command('event').description('OSS trigger events for a running local cloud');
  event
    .command('put')
    .description('deliver the OSS event FC would for an object of a running local cloud (archive rules apply), and print the outcome')
    .argument('<target>', 'oss://bucket/key of an object in the local cloud')
    .option('--data-dir <dir>', 'the --data-dir of the running `ossferry local cloud`')
    .option('--event-name <name>', 'event name (default by object type: ObjectCreated:PutObject, :CompleteMultipartUpload or :AppendObject)')
    .option('--json', 'print the event and the outcome as one JSON line')
    .action(async (target: string, o: EventPutFlags) => {
      process.exitCode = await eventPutCommand(target, o);
    });
}
