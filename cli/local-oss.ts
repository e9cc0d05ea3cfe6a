/**
 * `ossferry local oss`: runs the protocol-faithful local OSS server (local/oss). The lead wires
 * `registerLocalOssCommand` into the ossferry program.
 */
import type { Command } from 'commander';
import { addLocalOssOptions, runLocalOss, type LocalOssCliFlags } from '../local/oss/main.ts';

/** Adds `local oss` (creating the `local` group if needed). */
export function registerLocalOssCommand(program: Command): void {
  const local = program.commands.find((c) => c.name() === 'local') ?? program.command('local').description('Local stand-ins for the cloud');
  const oss = local
    .command('oss')
    .description('Run a local OSS-compatible server that ali-oss cannot tell from OSS (prints endpoint and credentials as JSON)');
  addLocalOssOptions(oss).action(async (flags: LocalOssCliFlags) => {
    await runLocalOss(flags);
  });
}
