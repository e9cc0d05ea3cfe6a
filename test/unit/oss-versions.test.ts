/**
 * The local OSS's version transitions (local/oss/versions.ts) against a model: a key's history is one list of
 * versions, newest first, and what a read sees is its head unless that is a delete marker. Random sequences of
 * Put, DELETE and DELETE-by-id under Enabled, Suspended or no versioning must agree with the model, and every
 * version dropped must be reported as discarded exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ObjectMeta } from '../../local/oss/store.ts';
import { deleteLatest, putVersion, removeVersion, versionIdOf, type KeyVersions, type VersioningStatus } from '../../local/oss/versions.ts';

type Op = { kind: 'put' } | { kind: 'delete' } | { kind: 'deleteVersion'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'put' as const }),
  fc.constant({ kind: 'delete' as const }),
  fc.nat(20).map((pick) => ({ kind: 'deleteVersion' as const, pick })),
);

const meta = (n: number): ObjectMeta => ({ key: 'k', size: n, etag: String(n), crc64: '0', type: 'Normal', lastModified: n, contentType: '', userMeta: {}, headers: {}, segments: [{ file: `f${n}`, size: n }] });

describe('version transitions', () => {
  it('agree with the history model for any sequence of writes and deletes', () => {
    fc.assert(
      fc.property(fc.constantFrom<VersioningStatus | undefined>('Enabled', 'Suspended', undefined), fc.array(op, { maxLength: 30 }), (status, ops) => {
        // Prepare
        let v: KeyVersions = { current: undefined, older: [] };
        let history: ObjectMeta[] = [];
        const discarded: ObjectMeta[] = [];
        const written: ObjectMeta[] = [];
        // Act
        ops.forEach((o, i) => {
          if (o.kind === 'put') {
            const t = putVersion(v, meta(i), status, i);
            v = t.next;
            discarded.push(...t.discarded);
            written.push(t.written);
            if (status === undefined) history = [t.written, ...history.filter((m) => m.deleteMarker)].slice(0, 1);
            else history = [t.written, ...history.filter((m) => status !== 'Suspended' || versionIdOf(m) !== 'null')];
          } else if (o.kind === 'delete') {
            const t = deleteLatest(v, 'k', status, i);
            v = t.next;
            discarded.push(...t.discarded);
            if (t.marker) written.push(t.marker);
            if (status === undefined) history = [];
            else history = [t.marker!, ...history.filter((m) => status !== 'Suspended' || versionIdOf(m) !== 'null')];
          } else if (history.length > 0) {
            const target = history[o.pick % history.length]!;
            const t = removeVersion(v, versionIdOf(target));
            v = t.next;
            discarded.push(...t.discarded);
            history = history.filter((m) => m !== target);
          }
          // Assess (after every step)
          const all = [...(v.current ? [v.current] : []), ...v.older];
          expect(all).toEqual(history);
          expect(v.current).toBe(history[0] && !history[0].deleteMarker ? history[0] : undefined);
        });
        // Assess: everything written is either still there or was discarded, never both, never twice
        const live = new Set([...(v.current ? [v.current] : []), ...v.older]);
        expect(new Set(discarded).size).toBe(discarded.length);
        for (const m of written) expect(live.has(m) !== discarded.includes(m)).toBe(true);
        if (status === 'Enabled') expect(new Set(written.map(versionIdOf)).size).toBe(written.length);
      }),
    );
  });
});
