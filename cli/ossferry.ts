#!/usr/bin/env node
/**
 * The `ossferry` command (package.json bin; `npm start` = `ossferry start`). Commander parses; the work is
 * in ./commands.ts. Bad flags and bad values end with one line naming the flag and the fix, exit code 2;
 * a failed job exits 1.
 */
import { Command, CommanderError, Option } from 'commander';
import { InvalidInputError } from '../shared/errors.ts';

function transferOptions(cmd: Command): Command {
  return cmd
    .option('--part-size <size>', 'part size ("auto", bytes or e.g. 64MiB; 100KB..5GB)')
    .option('--workers <n>', 'parallel worker invocations ("auto" or 1..300; default auto: 16 up to 2 GiB, one more per 128 MiB above)')
    .option('--streams <n>', 'parts each worker uploads at once (1..64)')
    .option('--overwrite', 'replace an existing destination object (default: refuse)')
    .option('--gzip-level <n>', 'archive mode: gzip level 0..3 (ISA-L igzip levels; default 1)')
    .option('--json', 'print the report as one JSON line')
    .option('--quiet', 'no progress display');
}

/** Commands that read OSS directly (cli/oss-access.ts): a deployment's bucket or a local cloud data directory. */
function ossReadOptions(cmd: Command): Command {
  return cmd
    .option('--oss-endpoint <url>', 'OSS endpoint of the bucket')
    .option('--oss-region <region>', 'OSS region of the bucket, e.g. cn-hangzhou (credentials from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET)')
    .option('--data-dir <dir>', 'read from a local cloud data directory instead')
    .option('--json', 'print one JSON line');
}

type Commands = typeof import('./commands.ts');

export function buildProgram(cmds: Commands): Command {
  const { cancelCommand, copyCommand, jobsCommand, startCommand, statusCommand, verifyCommand } = cmds;
  const program = new Command();
  program
    .name('ossferry')
    .description('Move very large files into Alibaba Cloud OSS, fast and verified (CRC-64), on Function Compute.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  transferOptions(
    program
      .command('start')
      .description('boot the local cloud (OSS, FC gateway, HTTP source), copy a sample file through it, verify, report, shut down')
      .option('--size <size>', 'sample file size (e.g. 1GiB, 200MB)', '1GiB')
      .option('--max-instances <n>', 'worker instances of the local FC (1..64)', '4')
      .option('--archive-size <size>', 'log-like input of the archive jobs (gzip) over HTTP and SFTP; 0 skips them', '256MiB')
      .option('--no-sftp', 'skip the SFTP archive job (it runs when /usr/sbin/sshd is installed)'),
  ).action(async (o) => {
    process.exitCode = await startCommand(o);
  });

  transferOptions(
    program
      .command('copy')
      .description('copy <source> (http(s)://, oss://bucket/key, sftp://user@host:port/path or a local file) to oss://bucket/key, or gzip it there with --gzip; on the local cloud unless --fc-* flags name a deployment')
      .argument('<source>', 'http(s):// URL, oss://bucket/key, sftp://user@host:port/path, or a local file (local cloud only)')
      .option('--gzip', 'archive mode: gzip into independent members while uploading (output decodes with gzip -dc / zcat)')
      .option('--sftp-key-file <path>', 'sftp:// source, local cloud: SSH private key (given to the functions as OSSFERRY_SFTP_PRIVATE_KEY)')
      .option('--sftp-host-key <fingerprint>', 'sftp:// source: server host key, SHA256:… as ssh-keygen -lf prints it')
      .argument('<destination>', 'oss://bucket/key')
      .option('--expected-size <size>', 'fail before uploading if the source size differs')
      .option('--expected-crc64 <decimal>', 'fail unless the object CRC-64 equals this')
      .option('--source-endpoint <endpoint>', 'endpoint of an oss:// source in another region')
      .option('--source-region <region>', 'region of an oss:// source')
      .option('--no-preserve', 'do not carry the source\'s Content-Type, Cache-Control, … and x-oss-meta-* over')
      .option('--storage-class <class>', 'destination storage class: Standard, IA, Archive, ColdArchive, DeepColdArchive')
      .option('--sse <algorithm>', 'server-side encryption of the destination: AES256, KMS or SM4')
      .option('--sse-kms-key-id <id>', 'KMS key id (with --sse KMS)')
      .option('--tag <key=value>', 'object tag (repeatable)', (v: string, all: string[] = []) => [...all, v])
      .option('--acl <acl>', 'destination object ACL: default, private, public-read, public-read-write')
      .option('--unpinned <policy>', 'source without a strong ETag or CRC-64: refuse (default), reread (each part read again and compared) or trust (copied, marked unpinned)')
      .option('--data-dir <dir>', 'local cloud: keep the local OSS data here, or submit to the `ossferry local cloud` running on it')
      .option('--fc-account-id <id>', 'deployment: Alibaba Cloud account id (Pulumi output)')
      .option('--fc-region <region>', 'deployment: FC region, e.g. cn-hangzhou')
      .option('--fc-service <name>', 'deployment: FC service name')
      .option('--fc-function <name>', 'deployment: coordinator function name')
      .option('--fc-endpoint <url>', 'deployment: FC endpoint override')
      .option('--oss-endpoint <url>', 'deployment: OSS endpoint for reading the status location (default: the public endpoint of --fc-region)')
      .option('--detach', 'print the job id and return; the job runs on (follow it with ossferry status <id> --watch)')
      .addOption(new Option('--timeout <seconds>', 'stop following the job after this long (it runs on)').default(undefined)),
  ).action(async (source: string, destination: string, o) => {
    process.exitCode = await copyCommand(source, destination, o);
  });

  ossReadOptions(
    program
      .command('status')
      .description("show a job's progress from its status object")
      .argument('<jobId>', 'the job id (j + 32 hex digits)')
      .option('--watch', 'refresh until the job ends (Ctrl-C stops watching; the job goes on)')
      .option('--status-location <oss-url>', 'oss://bucket/prefix of status objects (env OSSFERRY_STATUS_LOCATION)'),
  ).action(async (jobId: string, o) => {
    process.exitCode = await statusCommand(jobId, o);
  });

  ossReadOptions(
    program
      .command('jobs')
      .description('list the jobs whose status objects are in the status location, newest first')
      .option('--state <state>', 'only jobs in this state: initiating, running, completing, succeeded, failed, interrupted, cancelled')
      .option('--status-location <oss-url>', 'oss://bucket/prefix of status objects (env OSSFERRY_STATUS_LOCATION)'),
  ).action(async (o) => {
    process.exitCode = await jobsCommand(o);
  });

  ossReadOptions(
    program
      .command('cancel')
      .description('cancel a running job: its coordinator and workers stop, the upload is aborted, nothing reaches the destination')
      .argument('<jobId>', 'the job id (j + 32 hex digits)')
      .option('--status-location <oss-url>', 'oss://bucket/prefix of status objects (env OSSFERRY_STATUS_LOCATION)'),
  ).action(async (jobId: string, o) => {
    process.exitCode = await cancelCommand(jobId, o);
  });

  ossReadOptions(
    program
      .command('verify')
      .description('prove an object: against a local file (--against, nothing downloaded) or by reading it back (archives decoded), by size and CRC-64')
      .argument('<target>', 'oss://bucket/key')
      .option('--against <file>', 'local file the object should hold (for an ossferry archive: the file before compression)')
      .option('--status-location <oss-url>', "oss://bucket/prefix of status objects, where the job's receipt is checked (env OSSFERRY_STATUS_LOCATION)"),
  ).action(async (target: string, o) => {
    process.exitCode = await verifyCommand(target, o);
  });

  return program;
}

/** `ossferry local …`: `local oss` (./local-oss.ts), `local cloud` (./local-cloud.ts), `local event put` (./local-event.ts). */
async function registerLocal(program: Command): Promise<void> {
  const { registerLocalOssCommand } = await import('./local-oss.ts');
  const { registerLocalCloudCommand } = await import('./local-cloud.ts');
  const { registerLocalEventCommands } = await import('./local-event.ts');
  registerLocalOssCommand(program);
  registerLocalCloudCommand(program);
  registerLocalEventCommands(program);
}

export async function main(argv: string[]): Promise<number> {
  // Library info lines (e.g. the CRC backend) would interleave with the progress display; warnings still show.
  process.env.OSSFERRY_LOG_LEVEL ??= 'warn';
  const program = buildProgram(await import('./commands.ts'));
  await registerLocal(program);
  (await import('./plan.ts')).registerPlanCommand(program);
  (await import('./sweep.ts')).registerSweepCommand(program);
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed the message (and help where asked for).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof InvalidInputError) {
      process.stderr.write(`ossferry: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`ossferry: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/ossferry.ts') || process.argv[1]?.endsWith('/ossferry')) {
  main(process.argv).then((code) => process.exit(code));
}
