/**
 * Range and conditional-request evaluation for GET/HEAD. Pure.
 * Ranges are half-open `[start, end)` in code; the HTTP `Content-Range` is built only in `contentRange`.
 */
export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * OSS GetObject: by default an invalid or out-of-range Range is ignored (200 + whole object): bad unit,
 * end ≥ size, start ≥ size, suffix > size. With `x-oss-range-behavior: standard` the end is clamped and
 * start ≥ size gives 416 InvalidRange. A syntactically bad header is ignored in both modes (RFC 7233).
 * Multi-range: the OSS docs conflict; we treat it as invalid (default → whole object, standard → 416).
 */
export function decideRange(header: string | undefined, size: number, standard: boolean): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=(.*)$/.exec(header.trim());
  if (!m) return { kind: 'full' };
  const spec = (m[1] as string).trim();
  if (spec.includes(',')) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
  const r = /^(\d*)-(\d*)$/.exec(spec);
  if (!r) return { kind: 'full' };
  const [a, b] = [r[1] as string, r[2] as string];
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const n = Number(b);
    if (n === 0) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
    if (n > size) return standard ? (size === 0 ? { kind: 'unsatisfiable' } : { kind: 'partial', start: 0, end: size }) : { kind: 'full' };
    return { kind: 'partial', start: size - n, end: size };
  }
  const start = Number(a);
  if (b === '') {
    if (start >= size) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
    return { kind: 'partial', start, end: size };
  }
  const last = Number(b);
  if (last < start) return { kind: 'full' };
  if (start >= size) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
  if (last >= size) return standard ? { kind: 'partial', start, end: size } : { kind: 'full' };
  return { kind: 'partial', start, end: last + 1 };
}

/** `bytes a-b/total` for a half-open [start, end). */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end - 1}/${size}`;
}

/**
 * `x-oss-copy-source-range: bytes=a-b` for UploadPartCopy. An absent or invalid range copies the
 * whole source (OSS ignores an invalid copy range); out of bounds → undefined means "reject".
 */
export function decideCopyRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' {
  if (header === undefined) return { start: 0, end: size };
  const r = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!r) return 'invalid';
  const start = Number(r[1]);
  const end = r[2] === '' ? size : Number(r[2]) + 1;
  if (start >= size || end > size || end <= start) return 'invalid';
  return { start, end };
}

export type ConditionOutcome = { kind: 'ok' } | { kind: 'not-modified' } | { kind: 'failed'; condition: string };

export interface ConditionHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

function etagList(v: string): string[] {
  return v.split(',').map((s) => s.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toUpperCase());
}

/**
 * OSS GetObject: If-Match mismatch → 412, If-Unmodified-Since modified → 412, If-None-Match match → 304,
 * If-Modified-Since not modified → 304. Precedence is undocumented for OSS; we follow RFC 7232 §6.
 * `etag` is the unquoted upper-hex ETag, `lastModified` epoch ms (compared at second precision).
 */
export function evaluateConditions(h: ConditionHeaders, etag: string, lastModified: number): ConditionOutcome {
  const lm = Math.floor(lastModified / 1000) * 1000;
  const E = etag.toUpperCase();
  if (h.ifMatch !== undefined) {
    const list = etagList(h.ifMatch);
    if (!list.includes('*') && !list.includes(E)) return { kind: 'failed', condition: 'If-Match' };
  } else if (h.ifUnmodifiedSince !== undefined) {
    const t = Date.parse(h.ifUnmodifiedSince);
    if (!Number.isNaN(t) && lm > t) return { kind: 'failed', condition: 'If-Unmodified-Since' };
  }
  if (h.ifNoneMatch !== undefined) {
    const list = etagList(h.ifNoneMatch);
    if (list.includes('*') || list.includes(E)) return { kind: 'not-modified' };
  } else if (h.ifModifiedSince !== undefined) {
    const t = Date.parse(h.ifModifiedSince);
    if (!Number.isNaN(t) && lm <= t) return { kind: 'not-modified' };
  }
  return { kind: 'ok' };
}
