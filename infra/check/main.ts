/**
 * `npm run infra:check [Pulumi.<env>.yaml] [--schema <provider-schema.json>]`: what an operator runs before `pulumi up`, without the Pulumi CLI
 * or a cloud account. Loads the stack file's config exactly as the Pulumi engine hands it to the program
 * (structured values as JSON strings), runs the real entry point (infra/index.ts) under the provider-faithful
 * mocks (./mocks.ts), and prints every resource with its key settings, every config warning, and every schema
 * or deploy-rule violation. Exit 0 when clean, 1 on a violation or a refused config, 2 on usage errors.
 *
 * `--schema` checks against another extraction of the provider schema (test/infra/fixtures/extract-provider-schema.ts),
 * e.g. the provider version an environment pins.
 *
 * Secrets: `secure:` values cannot be decrypted here; they are checked as present, with a placeholder value.
 * A secret the config needs but the file lacks (sftpPrivateKey with sftpHostKeys) is reported as a note with
 * the command that sets it, and checked with a placeholder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { OssferryError } from '../../shared/errors.ts';
import { PROVIDER_SCHEMA_FILE, isSecretWire, loadProviderSchema, providerMocks, unwrap, type RecordedResource } from './mocks.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
// js-yaml is what @pulumi/pulumi itself parses YAML with.
const yaml = createRequire(createRequire(import.meta.url).resolve('@pulumi/pulumi'))('js-yaml') as { load(text: string): unknown };

const SECRET_PLACEHOLDER = 'infra-check-placeholder-secret';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run infra:check [Pulumi.<env>.yaml] [--schema <provider-schema.json>]\n`);
  process.exit(2);
}

function stackFile(arg: string | undefined): string {
  if (arg) return path.resolve(process.cwd(), arg);
  const found = readdirSync(ROOT).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f));
  if (found.length !== 1) usage(`name the stack file (found ${found.length ? found.join(', ') : 'none'} in ${ROOT})`);
  return path.join(ROOT, found[0]!);
}

/** A config value as the engine passes it to the program: strings as-is, everything else as JSON. */
const engineValue = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Short, secret-free rendering of one input for the resource listing. */
function render(v: unknown): string {
  if (isSecretWire(v)) return '[secret]';
  if (typeof v === 'string') {
    if (v.startsWith('{') || v.startsWith('[')) return `<${Buffer.byteLength(v)}-byte JSON>`;
    const shown = v.length > 90 ? `${v.slice(0, 87)}...` : v;
    return /[\s"',;]/.test(shown) && /[^ \w.:/@-]/.test(shown) ? JSON.stringify(shown) : shown;
  }
  if (Array.isArray(v)) return `[${v.map(render).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${render(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** Inputs worth a line: environment variables are listed by name only (values may be long or secret). */
function keySettings(r: RecordedResource): string[] {
  return Object.entries(r.inputs).map(([k, v]) => {
    if (k === 'environmentVariables') {
      const env = unwrap(v) as Record<string, unknown>;
      return `${k}: ${isSecretWire(v) ? '[secret] ' : ''}${Object.keys(env ?? {}).sort().join(' ')}`;
    }
    return `${k}: ${render(v)}`;
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--schema');
  const schemaFile = at >= 0 ? argv.splice(at, 2)[1] : undefined;
  if (at >= 0 && !schemaFile) usage('--schema needs a file');
  const schema = loadProviderSchema(schemaFile ? path.resolve(process.cwd(), schemaFile) : PROVIDER_SCHEMA_FILE);
  const file = stackFile(argv[0]);
  if (!existsSync(file)) usage(`no such stack file: ${file}`);
  const stack = /Pulumi\.([^.]+)\.yaml$/.exec(path.basename(file))?.[1];
  if (!stack) usage(`${file} is not named Pulumi.<env>.yaml`);
  const project = (yaml.load(readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as { name: string }).name;
  const raw = ((yaml.load(readFileSync(file, 'utf8')) as { config?: Record<string, unknown> } | null)?.config ?? {}) as Record<string, unknown>;

  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const notes: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (v !== null && typeof v === 'object' && 'secure' in v) {
      config[k] = SECRET_PLACEHOLDER;
      secretKeys.push(k);
      notes.push(`${k} is a secret: checked as set, its value is not decrypted here`);
    } else {
      config[k] = engineValue(v);
    }
  }
  const hostKeys = raw['ossferry:sftpHostKeys'];
  if (hostKeys && typeof hostKeys === 'object' && Object.keys(hostKeys).length > 0 && !('ossferry:sftpPrivateKey' in raw)) {
    config['ossferry:sftpPrivateKey'] = SECRET_PLACEHOLDER;
    secretKeys.push('ossferry:sftpPrivateKey');
    notes.push(`ossferry:sftpPrivateKey is not in ${path.basename(file)} (secrets are per stack). Before pulumi up: pulumi config set --secret sftpPrivateKey < ~/.ssh/ossferry_ed25519`);
  }

  const resources: RecordedResource[] = [];
  const accountId = typeof raw['alicloud:accountId'] === 'string' ? raw['alicloud:accountId'] : undefined;
  const region = typeof raw['alicloud:region'] === 'string' ? raw['alicloud:region'] : undefined;
  pulumi.runtime.setAllConfig(config, secretKeys);
  await pulumi.runtime.setMocks(
    providerMocks({ schema, ...(accountId ? { accountId } : {}), ...(region ? { region } : {}), onResource: (r) => resources.push(r) }),
    project,
    stack,
    false,
  );

  process.stdout.write(`infra:check ${path.relative(process.cwd(), file) || file} (project ${project}, stack ${stack})\n`);
  process.stdout.write(`provider schema: ${schema.provider.repository} at ${schema.provider.commit}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  try {
    await import('../index.ts');
    await (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  } catch (err) {
    const message = err instanceof OssferryError ? err.message : String((err as Error)?.stack ?? err);
    process.stdout.write(`\nREFUSED config: ${message}\n`);
    return 1;
  }

  // Component resources are the program's own grouping; the provider sees only alicloud:* resources.
  const cloud = resources.filter((r) => r.type.startsWith('alicloud:'));
  const violations = cloud.flatMap((r) => r.violations);
  process.stdout.write(`\n${cloud.length} resources:\n`);
  for (const r of cloud) {
    const type = r.type.replace(/^alicloud:([a-z]+)\/[a-zA-Z0-9]+:/, '$1.');
    process.stdout.write(`\n${r.violations.length ? '✗' : '✓'} ${type} ${r.name}\n`);
    for (const line of keySettings(r)) process.stdout.write(`    ${line}\n`);
    for (const v of r.violations) process.stdout.write(`    VIOLATION [${v.rule}] ${v.path}: ${v.message}\n`);
  }
  process.stdout.write(
    violations.length === 0
      ? `\nOK: ${cloud.length} resources, no schema or deploy-rule violation.\n`
      : `\nFAILED: ${violations.length} violation(s):\n${violations.map((v) => `  ${v.type} ${v.resource} ${v.path} [${v.rule}]: ${v.message}`).join('\n')}\n`,
  );
  return violations.length === 0 ? 0 : 1;
}

process.exitCode = await main();
