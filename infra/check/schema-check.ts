/**
 * Checks a resource's inputs, as Pulumi sends them (camelCase, MaxItems-1 blocks flattened to objects),
 * against the Terraform provider's schema (test/infra/fixtures/provider-schema.json, read from
 * aliyun/terraform-provider-alicloud). Pure: the same rules run in the test mocks and in `npm run infra:check`.
 *
 * Rule kinds: unknown field, Computed-only field set, removed field set, Required field missing, wrong type,
 * MaxItems / MinItems, ConflictsWith, and the validators (length, range, enum, pattern, non-empty, JSON).
 */
import type { FieldSchema, ProviderSchemaFile, Validator } from './schema-types.ts';

export type RuleKind =
  | 'unknown-field'
  | 'computed-only'
  | 'removed'
  | 'required'
  | 'type'
  | 'max-items'
  | 'min-items'
  | 'conflicts'
  | 'length'
  | 'range'
  | 'enum'
  | 'pattern'
  | 'non-empty'
  | 'json'
  | 'unknown-resource'
  /** A deploy rule beyond the schema (./policy-rules.ts). */
  | 'policy';

export interface Violation {
  /** Pulumi type token. */
  type: string;
  /** Pulumi resource name. */
  resource: string;
  /** Input path in Pulumi's names, e.g. vpcConfig.vpcId. */
  path: string;
  rule: RuleKind;
  message: string;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The bridge's plural for list/set names (go-openapi/inflect, the cases the provider uses). */
export function plural(name: string): string {
  if (/(us|x|z|ch|sh)$/.test(name)) return `${name}es`;
  if (name.endsWith('s')) return name;
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  return `${name}s`;
}

const isBlockList = (f: FieldSchema) => (f.type === 'List' || f.type === 'Set') && f.maxItems !== 1;

/** Pulumi input names for a provider field: camelCase, pluralised for lists and sets that are not MaxItems 1. */
export function pulumiNames(tfName: string, f: FieldSchema): string[] {
  const c = camel(tfName);
  return isBlockList(f) ? [...new Set([camel(plural(tfName)), c])] : [c];
}

function nameIndex(fields: Record<string, FieldSchema>): Map<string, [string, FieldSchema]> {
  const m = new Map<string, [string, FieldSchema]>();
  for (const [tf, f] of Object.entries(fields)) for (const n of pulumiNames(tf, f)) m.set(n, [tf, f]);
  return m;
}

const present = (v: unknown) => v !== undefined && v !== null;

function typeProblem(f: FieldSchema, v: unknown): string | undefined {
  switch (f.type) {
    case 'String':
      return typeof v === 'string' ? undefined : `must be a string, got ${JSON.stringify(v)}`;
    case 'Int':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : `must be a whole number, got ${JSON.stringify(v)}`;
    case 'Float':
      return typeof v === 'number' ? undefined : `must be a number, got ${JSON.stringify(v)}`;
    case 'Bool':
      return typeof v === 'boolean' ? undefined : `must be true or false, got ${JSON.stringify(v)}`;
    case 'Map':
      return typeof v === 'object' && !Array.isArray(v) ? undefined : 'must be a map';
    default:
      return undefined;
  }
}

function validatorProblem(v: Validator, value: unknown): [RuleKind, string] | undefined {
  switch (v.kind) {
    case 'length': {
      if (typeof value !== 'string') return undefined;
      const n = Buffer.byteLength(value); // Go's len() counts bytes
      return n < v.min || n > v.max ? ['length', `must be ${v.min}-${v.max} characters long, got ${n} ("${value}")`] : undefined;
    }
    case 'range':
      if (typeof value !== 'number') return undefined;
      return (v.min !== undefined && value < v.min) || (v.max !== undefined && value > v.max)
        ? ['range', `must be between ${v.min ?? '-∞'} and ${v.max ?? '∞'}, got ${value}`]
        : undefined;
    case 'enum': {
      const ok = v.values.some((x) => (v.ignoreCase && typeof x === 'string' && typeof value === 'string' ? x.toLowerCase() === value.toLowerCase() : x === value));
      return ok ? undefined : ['enum', `must be one of ${v.values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(value)}`];
    }
    case 'pattern': {
      if (typeof value !== 'string') return undefined;
      let re: RegExp;
      try {
        re = new RegExp(v.pattern);
      } catch {
        return undefined; // a Go-only regexp construct: not checkable here
      }
      return re.test(value) ? undefined : ['pattern', `must match ${v.pattern}${v.message ? ` (${v.message})` : ''}, got "${value}"`];
    }
    case 'nonEmpty':
      return value === '' || value === 0 ? ['non-empty', 'must not be empty or zero'] : undefined;
    case 'json':
      if (typeof value !== 'string') return undefined;
      try {
        JSON.parse(value);
        return undefined;
      } catch {
        return ['json', 'must be a JSON document'];
      }
  }
}

function checkBlock(fields: Record<string, FieldSchema>, inputs: Record<string, unknown>, path: string, out: Array<Omit<Violation, 'type' | 'resource'>>): void {
  const index = nameIndex(fields);
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const setTf = new Set<string>();
  for (const [k, value] of Object.entries(inputs)) {
    if (!present(value)) continue;
    const hit = index.get(k);
    if (!hit) {
      out.push({ path: at(k), rule: 'unknown-field', message: `is not a field of this resource in the provider schema` });
      continue;
    }
    const [tf, f] = hit;
    setTf.add(tf);
    checkField(tf, f, value, at(k), out);
  }
  for (const [tf, f] of Object.entries(fields)) {
    if (f.required && !setTf.has(tf)) out.push({ path: at(pulumiNames(tf, f)[0]!), rule: 'required', message: 'is required by the provider and not set' });
    for (const other of f.conflictsWith ?? []) {
      if (setTf.has(tf) && setTf.has(other) && tf < other) {
        out.push({ path: at(camel(tf)), rule: 'conflicts', message: `cannot be set together with ${camel(other)}` });
      }
    }
  }
}

function checkField(tf: string, f: FieldSchema, value: unknown, path: string, out: Array<Omit<Violation, 'type' | 'resource'>>): void {
  if (f.removed) return void out.push({ path, rule: 'removed', message: `was removed from the provider: ${f.removed}` });
  if (f.computed && !f.optional && !f.required) {
    return void out.push({ path, rule: 'computed-only', message: `is Computed-only in the provider (${tf}): it is derived, setting it fails validation` });
  }
  if (f.type === 'List' || f.type === 'Set') {
    let items: unknown[];
    if (f.maxItems === 1) {
      // Pulumi flattens MaxItems-1 blocks into a single object.
      if (Array.isArray(value)) {
        if (value.length > 1) out.push({ path, rule: 'max-items', message: `takes at most 1 item, got ${value.length}` });
        items = value;
      } else items = [value];
    } else {
      if (!Array.isArray(value)) return void out.push({ path, rule: 'type', message: 'must be a list' });
      items = value;
      if (f.maxItems !== undefined && items.length > f.maxItems) out.push({ path, rule: 'max-items', message: `takes at most ${f.maxItems} items, got ${items.length}` });
    }
    if (f.minItems !== undefined && items.length < f.minItems) out.push({ path, rule: 'min-items', message: `needs at least ${f.minItems} items, got ${items.length}` });
    items.forEach((item, i) => {
      const p = f.maxItems === 1 ? path : `${path}[${i}]`;
      if (f.block) {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) out.push({ path: p, rule: 'type', message: 'must be an object' });
        else checkBlock(f.block, item as Record<string, unknown>, p, out);
      } else if (f.elem) {
        checkScalar(f.elem, item, p, out);
      }
    });
    return;
  }
  if (f.type === 'Map') {
    const t = typeProblem(f, value);
    if (t) return void out.push({ path, rule: 'type', message: t });
    if (f.elem) for (const [k, v] of Object.entries(value as object)) checkScalar(f.elem, v, `${path}.${k}`, out);
    return;
  }
  checkScalar(f, value, path, out);
}

function checkScalar(f: FieldSchema, value: unknown, path: string, out: Array<Omit<Violation, 'type' | 'resource'>>): void {
  const t = typeProblem(f, value);
  if (t) return void out.push({ path, rule: 'type', message: t });
  for (const v of f.validators ?? []) {
    const p = validatorProblem(v, value);
    if (p) out.push({ path, rule: p[0], message: p[1] });
  }
}

/** Every violation of `inputs` against the provider schema of `type`. Secret wrappers must be removed first. */
export function checkResourceInputs(schema: ProviderSchemaFile, type: string, resource: string, inputs: Record<string, unknown>): Violation[] {
  // Component resources are the program's own, not the provider's.
  if (!type.startsWith('alicloud:')) return [];
  const r = schema.resources[type];
  if (!r) {
    return [{ type, resource, path: '', rule: 'unknown-resource', message: `no provider schema recorded for ${type}: add it to the fixture (extract-provider-schema.ts RESOURCES)` }];
  }
  const out: Array<Omit<Violation, 'type' | 'resource'>> = [];
  checkBlock(r.fields, inputs, '', out);
  return out.map((v) => ({ type, resource, ...v }));
}
