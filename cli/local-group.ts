/** The `ossferry local` command group, created by whichever `local …` command registers first. */
import type { Command } from 'commander';

export function localGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'local') ?? program.command('local').description('Local stand-ins for the cloud');
}
