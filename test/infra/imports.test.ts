/**
 * infra/ imports nothing from functions/, and only shared/ modules that load no native code
 * (never shared/crc64 or shared/gzip), followed transitively through shared/.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const ALLOWED_PACKAGES = new Set(['@pulumi/pulumi', '@pulumi/alicloud', 'zod']);

function specifiers(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of src.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  for (const m of src.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Every local file reachable from infra/*.ts, with the bare packages it imports. */
function closure(): { files: Set<string>; packages: Set<string>; edges: Array<[string, string]> } {
  const infraDir = join(ROOT, 'infra');
  const todo = readdirSync(infraDir).filter((f) => f.endsWith('.ts')).map((f) => join(infraDir, f));
  const files = new Set<string>();
  const packages = new Set<string>();
  const edges: Array<[string, string]> = [];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        edges.push([relative(ROOT, file), relative(ROOT, target)]);
        todo.push(target);
      } else {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  }
  return { files, packages, edges };
}

describe('infra/ import boundary', () => {
  it('reaches only infra/ and pure shared/ modules, never functions/ or native code', () => {
    // Prepare
    const { files, edges } = closure();
    // Act
    const rel = [...files].map((f) => relative(ROOT, f));
    // Assess
    expect(rel.some((f) => f.startsWith('infra/'))).toBe(true);
    expect(edges.length).toBeGreaterThan(0);
    for (const f of rel) {
      expect(f, `${f} is outside infra/ and shared/`).toMatch(/^(infra|shared)\//);
      expect(f).not.toMatch(/^shared\/(crc64|gzip)(\/|\.ts$)/);
      expect(f).not.toMatch(/\.node$/);
    }
    for (const [from, to] of edges) expect(to.endsWith('.ts'), `${from} imports ${to} without .ts`).toBe(true);
  });

  it('imports only Pulumi, zod and Node built-ins as packages', () => {
    // Prepare
    const { packages } = closure();
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    // Act
    const foreign = [...packages].filter((p) => !ALLOWED_PACKAGES.has(p) && !builtins.has(p));
    // Assess
    expect(packages.has('@pulumi/alicloud')).toBe(true);
    expect(foreign).toEqual([]);
  });
});
