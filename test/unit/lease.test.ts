import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideLease, isFenced, isLive, leaseEpochOf, leaseKey, mayAct, type LeaseRecord } from '../../shared/lease.ts';

const TTL = 30_000;

const records = fc.uniqueArray(
  fc.record({ epoch: fc.integer({ min: 1, max: 50 }), lastWriteMs: fc.integer({ min: 0, max: 200_000 }), released: fc.boolean() }),
  { selector: (r) => r.epoch, maxLength: 8 },
);

describe('decideLease', () => {
  it('takes epoch 1 of a job nobody ever owned', () => {
    // Act
    const d = decideLease([], 1_000, TTL);
    // Assess
    expect(d).toEqual({ kind: 'take', epoch: 1 });
  });

  it('a take is always above every existing epoch; a hold is always the top epoch, live (property)', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 0, max: 300_000 }), (rs, now) => {
        // Act
        const d = decideLease(rs, now, TTL);
        // Assess
        const top = rs.reduce<LeaseRecord | undefined>((a, r) => (!a || r.epoch > a.epoch ? r : a), undefined);
        if (d.kind === 'take') {
          expect(rs.every((r) => r.epoch < d.epoch)).toBe(true);
          expect(top === undefined || !isLive(top, now, TTL)).toBe(true);
        } else {
          expect(d.epoch).toBe(top!.epoch);
          expect(isLive(top!, now, TTL)).toBe(true);
          expect(d.expiresInMs).toBeGreaterThan(0);
          expect(d.expiresInMs).toBeLessThanOrEqual(TTL);
        }
      }),
    );
  });

  it('a live lower epoch never blocks: only the top epoch owns (property)', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 0, max: 300_000 }), (rs, now) => {
        // Prepare: make every record but the top one fresh
        const topEpoch = Math.max(0, ...rs.map((r) => r.epoch));
        const fresh = rs.map((r) => (r.epoch === topEpoch ? r : { ...r, lastWriteMs: now, released: false }));
        // Act
        const d = decideLease(fresh, now, TTL);
        // Assess
        const top = fresh.find((r) => r.epoch === topEpoch);
        expect(d.kind === 'held').toBe(top !== undefined && isLive(top, now, TTL));
      }),
    );
  });
});

describe('one owner under concurrent takeovers (model of create-only writes)', () => {
  it('contenders deciding from the same or stale listings create each epoch at most once; at most one unfenced live owner (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 120_000 }), staleBy: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 12 }),
        (contenders) => {
          // Prepare: OSS as a map of created lease objects; each contender lists (maybe missing the newest writes), decides, creates create-only.
          const created = new Map<number, LeaseRecord>();
          const history: LeaseRecord[][] = [[]];
          const owners: number[] = [];
          for (const c of [...contenders].sort((a, b) => a.at - b.at)) {
            const snapshot = history[Math.max(0, history.length - 1 - c.staleBy)]!;
            const d = decideLease(snapshot, c.at, TTL);
            // Act
            if (d.kind === 'take' && !created.has(d.epoch)) {
              created.set(d.epoch, { epoch: d.epoch, lastWriteMs: c.at, released: false });
              owners.push(d.epoch);
              history.push([...created.values()]);
            }
          }
          // Assess: every epoch was won once; at any time only the highest created epoch is unfenced.
          expect(new Set(owners).size).toBe(owners.length);
          const all = [...created.values()];
          const unfenced = owners.filter((e) => !isFenced(all, e));
          expect(unfenced.length).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});

describe('mayAct', () => {
  it('stops acting a margin before the lease could expire on the server (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 10_000 }), (confirmed, elapsed, margin) => {
        // Act
        const ok = mayAct(confirmed, confirmed + elapsed, TTL, margin);
        // Assess
        expect(ok).toBe(elapsed < TTL - margin);
      }),
    );
  });
});

describe('lease keys', () => {
  it('round-trip the epoch and sort in epoch order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9_999_999_999 }), fc.integer({ min: 1, max: 9_999_999_999 }), (a, b) => {
        // Act
        const ka = leaseKey('jobs', 'j0123', a);
        const kb = leaseKey('jobs', 'j0123', b);
        // Assess
        expect(leaseEpochOf(ka)).toBe(a);
        expect(Math.sign(ka.localeCompare(kb))).toBe(Math.sign(a - b));
      }),
    );
  });

  it('other keys of the status location are not leases', () => {
    // Act + Assess
    expect(leaseEpochOf('jobs/j0123.json')).toBeUndefined();
    expect(leaseEpochOf('jobs/j0123/lease-0000000001.json.released')).toBeUndefined();
    expect(leaseKey('', 'j1', 7)).toBe('j1/lease-0000000007.json');
  });
});
