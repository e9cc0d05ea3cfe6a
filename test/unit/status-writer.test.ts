/**
 * StatusWriter (functions/status/store.ts): writes are serialised, the latest state wins, and flush() ends
 * even when the writer's guard refuses every write (a fenced lease). The soak found a fenced coordinator whose
 * flush() spun forever on a settled promise, starving its event loop and every other job on the instance.
 */
import { describe, expect, it } from 'vitest';
import { StatusWriter, type JobStatus, type StatusStore } from '../../functions/status/store.ts';

const status = (rounds: number) => ({ version: 1, jobId: 'j', rounds }) as unknown as JobStatus;

function memoryStore(): StatusStore & { written: number[] } {
  const written: number[] = [];
  return {
    written,
    read: async () => undefined,
    write: async (s: JobStatus) => {
      await new Promise((r) => setTimeout(r, 1));
      written.push(s.rounds);
    },
  } as unknown as StatusStore & { written: number[] };
}

describe('StatusWriter', () => {
  it('flush() ends with the guard error when the guard refuses the write (fenced owner), and the event loop keeps running', async () => {
    // Prepare
    const store = memoryStore();
    const writer = new StatusWriter(store, () => {
      throw new Error('lease lost');
    });
    // Act: a bounded number of microtask turns (the old code looped on a settled promise forever, so a timer
    // could never fire: this test would hang rather than fail)
    writer.save(status(1));
    let outcome = 'pending';
    void writer.flush(true).then(() => (outcome = 'ok'), (e: Error) => (outcome = e.message));
    for (let i = 0; i < 50 && outcome === 'pending'; i++) await Promise.resolve();
    // Assess
    expect(outcome).toBe('lease lost');
    expect(store.written).toEqual([]);
  });

  it('coalesces bursts: the last state saved is written, and a save right after a drain ends is not lost', async () => {
    // Prepare
    const store = memoryStore();
    const writer = new StatusWriter(store);
    // Act
    writer.save(status(1));
    writer.save(status(2));
    writer.save(status(3));
    await writer.flush();
    writer.save(status(4));
    await Promise.resolve(); // the previous drain has ended; its cleanup runs in a later microtask
    writer.save(status(5));
    await writer.flush(true);
    // Assess
    expect(store.written.at(-1)).toBe(5);
    expect(store.written[0]).toBe(1);
    expect(store.written).not.toContain(2);
  });
});
