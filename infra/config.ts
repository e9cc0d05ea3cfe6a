/**
 * The only reader of pulumi.Config (docs/CONVENTIONS.md "Structure"). Collects every `ossferry:*` key plus
 * `alicloud:region` / `alicloud:accountId`, hands them to the pure validateConfig, and logs its warnings.
 * Secrets are read with getSecret/requireSecret and travel as Outputs, never as plain values.
 */
import * as pulumi from '@pulumi/pulumi';
import { NAMESPACE, SECRET_KEYS, validateConfig } from './config-schema.ts';
import type { OssferryStackConfig, RawStackConfig } from './config-schema.ts';

/**
 * `pulumi.runtime.isConfigSecret` exists at runtime (runtime/config.js) but is marked @internal, so it is
 * absent from the published types. Without it, assume the key is a secret rather than refuse a valid stack.
 */
function isConfigSecret(fullKey: string): boolean {
  const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return typeof fn === 'function' ? fn(fullKey) : true;
}

/** Reads and validates the current stack's config. Throws InvalidInputError naming the key on bad input. */
export function loadConfig(): OssferryStackConfig {
  const cfg = new pulumi.Config(NAMESPACE);
  const provider = new pulumi.Config('alicloud');

  // Every ossferry:* key, so a typo ("ossferry:workr") is refused instead of silently ignored.
  const values: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const k = fullKey.slice(NAMESPACE.length + 1);
    if ((SECRET_KEYS as readonly string[]).includes(k)) {
      // A secret key set without --secret sits unencrypted in Pulumi.<stack>.yaml: validateConfig refuses
      // any secret key found in `values`, and the placeholder keeps the value itself out of everything.
      if (isConfigSecret(fullKey)) secretKeys.push(k);
      else values[k] = '(set as plain text; value not shown)';
      continue;
    }
    values[k] = cfg.get(k);
  }

  const sftpPrivateKey = cfg.getSecret('sftpPrivateKey');
  const raw: RawStackConfig = {
    project: pulumi.getProject(),
    stack: pulumi.getStack(),
    region: provider.get('region'),
    accountId: provider.get('accountId'),
    values,
    secretKeys,
    secrets: sftpPrivateKey ? { sftpPrivateKey } : {},
  };
  const config = validateConfig(raw);
  // sftpHostKeys set without a key already failed validation; requireSecret here documents the contract
  // and fails with Pulumi's own missing-secret message should the two ever drift apart.
  if (Object.keys(config.sftpHostKeys).length > 0) cfg.requireSecret('sftpPrivateKey');
  for (const w of config.warnings) pulumi.log.warn(w);
  return config;
}
