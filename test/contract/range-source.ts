/**
 * The RangeSource contract (functions/sources/types.ts), one suite run over every scheme of the source
 * registry (shared/sources.ts): identity (the validators and fields the registry entry declares), byte-exact
 * ranged reads of every size class, large chunks, a change, a truncation or extra bytes between stat and read
 * refused, a cut body never taken for a short one, abort. Each scheme supplies a fixture that publishes bytes
 * and opens a source for them (test/integration/range-source-contract.test.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/errors.ts';
import { validatorOf } from '../../shared/pinning.ts';
import { SOURCE_SCHEMES, type SourceSchemeName } from '../../shared/sources.ts';
import { SourceChangedError, SourceUnavailableError, type RangeSource } from '../../functions/sources/types.ts';

export interface SourceUnderTest {
  source: RangeSource;
  /** Replaces the published bytes with a later version (another size or the same). */
  change(next: Buffer): Promise<void>;
}

export interface RangeSourceFixture {
  /** The registry entry under test: its identity fields and validators are what stat() must answer. */
  scheme: SourceSchemeName;
  /** Publishes `data` under a fresh name and opens a source for it. */
  create(data: Buffer): Promise<SourceUnderTest>;
  /** Kinds that can inject it: from now on (true) or no longer (false), ranged reads' bodies stop half-way. */
  cutBodies?(on: boolean): void;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** The smallest chunk a source may hand on, except a range's last. */
export const MIN_CHUNK = 256 * KiB;

async function collect(stream: Readable): Promise<{ data: Buffer; chunks: number[] }> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { data: Buffer.concat(parts), chunks: parts.map((p) => p.length) };
}

/** Reads [start, end) to the end; the error of read() or of its stream, if any. */
async function readError(src: RangeSource, start: number, end: number, pin: Awaited<ReturnType<RangeSource['stat']>>): Promise<unknown> {
  try {
    await collect(await src.read(start, end, pin));
    return undefined;
  } catch (err) {
    return err;
  }
}

export function rangeSourceContract(name: string, fixture: () => RangeSourceFixture, features: { cutBodies?: boolean } = {}): void {
  describe(`RangeSource contract: ${name}`, () => {
    const size = 2 * MiB + 300 * KiB + 7;

    it('identity: size and a validator of its kind, the same on a second stat', async () => {
      // Prepare
      const f = fixture();
      const entry = SOURCE_SCHEMES[f.scheme];
      const { source } = await f.create(randomBytes(size));
      // Act
      const a = await source.stat();
      const b = await source.stat();
      await source.close();
      // Assess
      expect(a.size).toBe(size);
      expect(entry.capabilities.validators).toContain(validatorOf(a));
      expect(Object.keys(a).filter((k) => !(entry.identity.fields as readonly string[]).includes(k))).toEqual([]);
      expect(b).toEqual(a);
    });

    it('ranged reads of every size class are byte-exact: empty, first and last byte, chunk and part boundaries, whole', async () => {
      // Prepare
      const data = randomBytes(size);
      const { source } = await fixture().create(data);
      const pin = await source.stat();
      const ranges: Array<[number, number]> = [[0, 0], [0, 1], [size - 1, size], [0, MIN_CHUNK], [MIN_CHUNK, 2 * MIN_CHUNK], [MiB - 1, MiB + 1], [100 * KiB, 2 * MiB], [0, size]];
      // Act
      const got: Buffer[] = [];
      for (const [s, e] of ranges) got.push((await collect(await source.read(s, e, pin))).data);
      await source.close();
      // Assess
      ranges.forEach(([s, e], i) => expect(got[i]!.equals(data.subarray(s, e)), `[${s}, ${e})`).toBe(true));
    });

    it(`hands on chunks of at least ${MIN_CHUNK / KiB} KiB, except a range's last`, async () => {
      // Prepare
      const { source } = await fixture().create(randomBytes(size));
      const pin = await source.stat();
      // Act
      const whole = await collect(await source.read(3, size, pin));
      const across = await collect(await source.read(MiB - 1, size - 1, pin));
      await source.close();
      // Assess
      expect(whole.chunks.slice(0, -1).filter((n) => n < MIN_CHUNK)).toEqual([]);
      expect(across.chunks.slice(0, -1).filter((n) => n < MIN_CHUNK)).toEqual([]);
      expect(across.chunks.reduce((a, n) => a + n, 0)).toBe(size - MiB);
    });

    it('a range outside the pinned size is refused before any read', async () => {
      // Prepare
      const { source } = await fixture().create(randomBytes(1000));
      const pin = await source.stat();
      // Act
      const act = source.read(500, 1001, pin);
      // Assess
      await expect(act).rejects.toBeInstanceOf(InvalidInputError);
      await source.close();
    });

    it('a change between stat and read at the same size is refused, never mixed in', async () => {
      // Prepare
      const { source, change } = await fixture().create(randomBytes(size));
      const pin = await source.stat();
      await change(randomBytes(size));
      // Act
      const err = await readError(source, 0, 400 * KiB, pin);
      await source.close();
      // Assess
      expect(err).toBeInstanceOf(SourceChangedError);
    });

    it('a source truncated after stat is refused', async () => {
      // Prepare
      const { source, change } = await fixture().create(randomBytes(size));
      const pin = await source.stat();
      await change(randomBytes(MiB));
      // Act
      const err = await readError(source, MiB - 10, 2 * MiB, pin);
      await source.close();
      // Assess
      expect(err).toBeInstanceOf(SourceChangedError);
    });

    it('a source grown after stat (extra bytes) is refused', async () => {
      // Prepare
      const { source, change } = await fixture().create(randomBytes(size));
      const pin = await source.stat();
      await change(randomBytes(size + 100 * KiB));
      // Act
      const err = await readError(source, size - 400 * KiB, size, pin);
      await source.close();
      // Assess
      expect(err).toBeInstanceOf(SourceChangedError);
    });

    if (features.cutBodies) {
      it('a body cut mid-way fails the read as unavailable (retryable), never passes for a short one', async () => {
        // Prepare
        const f = fixture();
        const { source } = await f.create(randomBytes(size));
        const pin = await source.stat();
        f.cutBodies!(true);
        // Act
        const err = await readError(source, 0, 2 * MiB, pin);
        f.cutBodies!(false);
        await source.close();
        // Assess
        expect(err).toBeInstanceOf(SourceUnavailableError);
      });
    }

    it('an abort mid-read errors the stream', async () => {
      // Prepare
      const { source } = await fixture().create(randomBytes(size));
      const pin = await source.stat();
      const ctl = new AbortController();
      const stream = await source.read(0, size, pin, ctl.signal);
      // Act
      let got = 0;
      const err = await (async () => {
        try {
          for await (const c of stream) {
            got += (c as Buffer).length;
            ctl.abort(new Error('stop'));
          }
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      await source.close();
      // Assess
      expect(err).toBeInstanceOf(Error);
      expect(got).toBeLessThan(size);
    });
  });
}
