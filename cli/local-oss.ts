/**
 * `ossferry local oss`: runs the protocol-faithful local OSS server (local/oss) until SIGINT/SIGTERM.
 * `runLocalOss` prints the ready line and owns the signals (it closes the server, then exits 0), so the action
 * never returns: returning would let `main` exit at once with the server still open.
 */
import type { Command } from 'commander';
import { runLocalOss, type LocalOssCliFlags } from '../local/oss/main.ts';
import { localGroup } from './local-group.ts';

function addLocalOssOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'TCP port (0 = random)', '0')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--data-dir <dir>', 'keep objects here across restarts (default: a temp dir removed on exit)')
    .option('--region <region>', 'region for Host addressing and V4 signatures', 'cn-hangzhou')
    .option('--access-key-id <id>', 'access key id (default: generated)')
    .option('--access-key-secret <secret>', 'access key secret (default: generated)')
    .option('--bucket <name...>', 'buckets to create at start')
    .option('--anonymous', 'accept unsigned requests')
    .option('--faults <json>', 'fault config JSON (see local/oss/README.md)')
    .option('--seed <n>', 'seed for fault decisions')
    .option('--no-fsync', 'skip fsync before making bodies visible (faster, not crash-safe)')
    .option('--verbose', 'log every request as a JSON line')
    .option('--admin-port <port>', 'port of the token-protected admin API (faults, health; loopback only)', '0');
}

/** Adds `local oss` (creating the `local` group if needed). */
export function registerLocalOssCommand(program: Command): void {
  const local = localGroup(program);
  const oss = local
    .command('oss')
    .description('Run a local OSS-compatible server that ali-oss cannot tell from OSS (prints endpoint and credentials as JSON)');
  addLocalOssOptions(oss).action(async (flags: LocalOssCliFlags) => {
    await runLocalOss(flags);
    await new Promise<never>(() => {});
  });
}
