/**
 * `ossferry local cloud`: the whole local cloud (local OSS, FC gateway with the coordinator and worker
 * functions, HTTP source) kept up until SIGINT/SIGTERM, with archive rules for OSS trigger events; it prints
 * endpoints and credentials and writes them to `<data-dir>/local-cloud.json` (local/cloud-state.ts), where
 * `ossferry local event put` (./local-event.ts) finds them.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parseArchiveRules, type ArchiveRule } from '../shared/archive-rules.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { LOCAL_DEFAULTS, startLocalCloud } from '../local/cloud.ts';
import { removeCloudState, runningCloudState, writeCloudState, type CloudState } from '../local/cloud-state.ts';
import { parseWhole } from './args.ts';
import { err, out } from './output.ts';
import { localGroup } from './local-group.ts';
import { untilSignal } from './until-signal.ts';


export interface LocalCloudFlags {
  dataDir?: string;
  bucket?: string[];
  archiveRules?: string;
  sourceRoot?: string;
  maxInstances?: string;
  json?: boolean;
}

/** `--archive-rules`: a JSON array inline (starts with "[") or the path of a file holding one. */
export async function readArchiveRulesFlag(value: string): Promise<ArchiveRule[]> {
  const inline = value.trimStart().startsWith('[');
  const text = inline
    ? value
    : await readFile(value, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new InvalidInputError('--archive-rules', `cannot read ${JSON.stringify(value)} (${e.code ?? e.message})`, 'pass a JSON array of archive rules, or the path of a file holding one');
      });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('--archive-rules', `${inline ? 'the value' : JSON.stringify(value)} is not JSON`, 'write a JSON array such as [{"name":"logs","sourceBucket":"logs-src","sourcePrefix":"incoming/","destinationBucket":"logs-dst"}]', { cause });
  }
  return parseArchiveRules(json, '--archive-rules');
}

function describeRule(r: ArchiveRule): string {
  return `${r.name}: oss://${r.sourceBucket}/${r.sourcePrefix}…${r.sourceSuffix} → oss://${r.destinationBucket}/${r.destinationPrefix}….gz (gzip level ${r.gzipLevel ?? 1}${r.deleteSourceAfterVerify ? ', deletes the source after verify: refused here, the local OSS keeps no versions' : ''})`;
}

function printCloud(s: CloudState, stateFile: string, rules: ArchiveRule[]): void {
  const rows: Array<[string, string]> = [
    ['OSS endpoint', `${s.oss.endpoint} (region ${s.oss.region})`],
    ['OSS access key', `${s.oss.accessKeyId} / ${s.oss.accessKeySecret}`],
    ['FC endpoint', `${s.fc.endpoint} (account ${s.fc.accountId}, service ${s.fc.serviceName}, coordinator ${s.fc.coordinatorFunction})`],
    ['FC access key', `${s.fc.accessKeyId} / ${s.fc.accessKeySecret} (security token ${s.fc.securityToken})`],
    ['HTTP source', `${s.httpSource.origin}${s.httpSource.root ? ` serving ${s.httpSource.root}` : ''}`],
    ['buckets', s.buckets.join(', ')],
    ['status objects', s.statusLocation],
    ...rules.map((r, i): [string, string] => [i === 0 ? 'archive rules' : '', describeRule(r)]),
    ['data dir', `${s.dataDir} (state: ${stateFile})`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  out('ossferry local cloud is up; Ctrl-C stops it');
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
  const rule = rules[0];
  out(`  try: upload into ${rule ? `oss://${rule.sourceBucket}/${rule.sourcePrefix}` : 'a bucket'}, then  ossferry local event put oss://${rule ? `${rule.sourceBucket}/${rule.sourcePrefix}` : 'bucket/'}<key> --data-dir ${s.dataDir}`);
}

/** `ossferry local cloud`: up until SIGINT/SIGTERM; exit 0 after a clean close. */
export async function localCloudCommand(o: LocalCloudFlags): Promise<number> {
  const rules = o.archiveRules !== undefined ? await readArchiveRulesFlag(o.archiveRules) : [];
  const maxInstances = o.maxInstances !== undefined ? parseWhole('--max-instances', o.maxInstances, 1, 64) : undefined;
  if (o.sourceRoot !== undefined && !existsSync(o.sourceRoot)) {
    throw new InvalidInputError('--source-root', `${JSON.stringify(o.sourceRoot)} does not exist`, 'pass a directory whose files the HTTP source should serve');
  }
  // Listen from the start: a Ctrl-C during start-up then closes what was started instead of killing it half-way.
  const stopped = untilSignal();
  const ownDir = o.dataDir === undefined;
  const dataDir = path.resolve(o.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ossferry-cloud-'))));
  const other = await runningCloudState(dataDir);
  if (other) {
    throw new InvalidInputError('--data-dir', `a local cloud (pid ${other.pid}) is already running on ${dataDir}`, 'stop it (Ctrl-C or kill its pid), or pass another --data-dir');
  }
  // Rule buckets exist from the start, so the first upload into a rule's source prefix just works.
  const buckets = [...new Set([...(o.bucket ?? [LOCAL_DEFAULTS.bucket]), ...rules.flatMap((r) => [r.sourceBucket, r.destinationBucket])])];
  const sourceRoot = o.sourceRoot !== undefined ? path.resolve(o.sourceRoot) : undefined;
  const cloud = await startLocalCloud({
    dataDir,
    buckets,
    ...(sourceRoot ? { sourceRoot } : {}),
    ...(maxInstances !== undefined ? { workers: { maxInstances } } : {}),
    coordinatorEnv: { [FUNCTION_ENV.ARCHIVE_RULES]: JSON.stringify(rules) },
    // The user's data stays crash-safe, unlike the tests' and benchmarks' default.
    fsync: true,
  });
  try {
    const state: CloudState = {
      version: 1,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      dataDir,
      oss: { endpoint: cloud.oss.endpoint, region: cloud.oss.region, accessKeyId: cloud.oss.accessKeyId, accessKeySecret: cloud.oss.accessKeySecret },
      fc: {
        endpoint: cloud.fc.endpoint,
        accountId: cloud.fc.accountId,
        region: cloud.oss.region,
        ...cloud.fcCredentials,
        serviceName: cloud.serviceName,
        coordinatorFunction: cloud.coordinatorFunction,
        workerFunction: cloud.workerFunction,
        coordinatorTimeoutSeconds: LOCAL_DEFAULTS.coordinator.timeoutSeconds,
      },
      httpSource: { origin: cloud.httpSource.origin, ...(sourceRoot ? { root: sourceRoot } : {}) },
      statusLocation: cloud.statusLocation,
      buckets: [...buckets, LOCAL_DEFAULTS.statusBucket],
      archiveRules: rules as unknown as Array<Record<string, unknown>>,
    };
    const stateFile = await writeCloudState(state);
    if (o.json) out(JSON.stringify({ event: 'ready', ...state, stateFile }));
    else printCloud(state, stateFile, rules);
    const signal = await stopped;
    if (!o.json) err(`ossferry: ${signal}: shutting the local cloud down`);
    return 0;
  } finally {
    await removeCloudState(dataDir);
    await cloud.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** Adds `local cloud` (creating the `local` group if needed). */
export function registerLocalCloudCommand(program: Command): void {
  const local = localGroup(program);
  local
    .command('cloud')
    .description('Run the whole local cloud (OSS, FC gateway with coordinator and workers, HTTP source) until Ctrl-C; prints endpoints and credentials')
    .option('--data-dir <dir>', 'keep the local OSS data here (default: a temp dir removed on exit); the state file local-cloud.json is written here')
    .option('--bucket <name...>', 'buckets to create (default ossferry); archive rules add their buckets')
    .option('--archive-rules <file|json>', 'archive rules for OSS trigger events: a JSON array, or a file holding one')
    .option('--source-root <dir>', 'directory the HTTP source serves (URL path = file path)')
    .option('--max-instances <n>', 'worker instances of the local FC (1..64)')
    .option('--json', 'print the endpoints and credentials as one JSON line')
    .action(async (o: LocalCloudFlags) => {
      process.exitCode = await localCloudCommand(o);
    });
}
