/** Naming the field of a zod issue in InvalidInputError messages (archive rules, OSS events, job spec). */

/** `field` followed by the issue path: `.name` for keys, `[i]` for array indices (`archiveRules[1].name`). */
export function issueField(field: string, path: readonly PropertyKey[]): string {
  let out = field;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** The value at `path` in `root`, or undefined where the path leaves the objects (to tell "missing" from "wrong"). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}
