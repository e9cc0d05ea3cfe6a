/**
 * Provider-faithful Pulumi mocks: every resource registration is checked against the provider schema
 * (./schema-check.ts) and the deploy rules (./policy-rules.ts) and recorded with its violations; the outputs a real provider computes (ARNs, ids)
 * are filled in so the program's Outputs resolve. Used by the infra tests and by `npm run infra:check`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as pulumi from '@pulumi/pulumi';
import { checkPolicyRules } from './policy-rules.ts';
import { checkResourceInputs, type Violation } from './schema-check.ts';
import type { ProviderSchemaFile } from './schema-types.ts';

/** The schema facts, read from the provider's source at the commit the file names. */
export const PROVIDER_SCHEMA_FILE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../test/infra/fixtures/provider-schema.json');

export function loadProviderSchema(file = PROVIDER_SCHEMA_FILE): ProviderSchemaFile {
  return JSON.parse(readFileSync(file, 'utf8')) as ProviderSchemaFile;
}

export interface RecordedResource {
  type: string;
  name: string;
  /** Inputs as Pulumi sent them (secret values still wrapped). */
  inputs: Record<string, unknown>;
  violations: Violation[];
}

/** Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts specialSigKey / specialSecretSig). */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export function isSecretWire(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Strips secret wrappers, for checking and asserting on values. */
export function unwrap(v: unknown): unknown {
  if (isSecretWire(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

/** Computed outputs a real provider would return, so ARNs and names resolve. */
function computed(args: pulumi.runtime.MockResourceArgs, accountId: string, region: string): Record<string, unknown> {
  const i = args.inputs as Record<string, string>;
  switch (args.type) {
    case 'alicloud:ram/role:Role':
      return { arn: `acs:ram::${accountId}:role/${i.roleName}` };
    case 'alicloud:fc/v2Function:V2Function':
      return { functionArn: `acs:fc:${region}:${accountId}:services/${i.serviceName}.LATEST/functions/${i.functionName}` };
    case 'alicloud:vpc/network:Network':
      return { id: 'vpc-mock1' };
    case 'alicloud:vpc/switch:Switch':
      return { id: 'vsw-mock1' };
    case 'alicloud:message/serviceQueue:ServiceQueue':
      return { id: i.queueName };
    default:
      return {};
  }
}

export interface ProviderMocksOptions {
  schema?: ProviderSchemaFile;
  accountId?: string;
  region?: string;
  onResource?: (r: RecordedResource) => void;
}

export function providerMocks(options: ProviderMocksOptions = {}): pulumi.runtime.Mocks {
  const schema = options.schema ?? loadProviderSchema();
  const accountId = options.accountId ?? '1234567890123456';
  const region = options.region ?? 'cn-hangzhou';
  return {
    newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      const plain = unwrap(inputs) as Record<string, unknown>;
      const violations = [...checkResourceInputs(schema, args.type, args.name, plain), ...checkPolicyRules(args.type, args.name, plain)];
      options.onResource?.({ type: args.type, name: args.name, inputs, violations });
      const extra = computed(args, accountId, region);
      const id = typeof extra.id === 'string' ? extra.id : `${args.name}-id`;
      return { id, state: { ...args.inputs, ...extra } };
    },
    call: (args) => args.inputs as Record<string, unknown>,
  };
}
