import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeLimits, encode, encodeReply, FXP, ReplyDecoder, SftpProtocolError, type DataTarget, type FileAttrs, type Reply } from '../../functions/sources/sftp/wire.ts';

/** Splits `buf` at the given cut points (sorted, deduplicated, inside the buffer). */
function cutsOf(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, buf.length]) {
    if (c > prev) out.push(buf.subarray(prev, c));
    prev = c;
  }
  return out;
}

const u32 = fc.nat({ max: 0xffffffff });
// SFTP v3 carries uid with gid and atime with mtime (one flag each).
const attrsArb: fc.Arbitrary<FileAttrs> = fc
  .record(
    { size: fc.maxSafeNat(), ids: fc.tuple(u32, u32), permissions: u32, times: fc.tuple(u32, u32) },
    { requiredKeys: [] },
  )
  .map(({ size, ids, permissions, times }) => ({
    ...(size !== undefined && { size }),
    ...(ids && { uid: ids[0], gid: ids[1] }),
    ...(permissions !== undefined && { permissions }),
    ...(times && { atime: times[0], mtime: times[1] }),
  }));

type Sent =
  | { kind: 'status'; id: number; code: number; message: string }
  | { kind: 'handle'; id: number; handle: Buffer }
  | { kind: 'data'; id: number; data: Buffer; targeted: boolean }
  | { kind: 'attrs'; id: number; attrs: FileAttrs };

const replyArb: fc.Arbitrary<Sent> = fc.oneof(
  fc.record({ kind: fc.constant('status' as const), id: fc.nat({ max: 0xffffffff }), code: fc.nat({ max: 8 }), message: fc.string({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('handle' as const), id: fc.nat({ max: 0xffffffff }), handle: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)) }),
  fc.record({ kind: fc.constant('data' as const), id: fc.nat({ max: 0xffffffff }), data: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)), targeted: fc.boolean() }),
  fc.record({ kind: fc.constant('attrs' as const), id: fc.nat({ max: 0xffffffff }), attrs: attrsArb }),
);

function encodeSent(r: Sent): Buffer {
  switch (r.kind) {
    case 'status':
      return encodeReply.status(r.id, r.code, r.message);
    case 'handle':
      return encodeReply.handle(r.id, r.handle);
    case 'data':
      return encodeReply.data(r.id, r.data);
    case 'attrs':
      return encodeReply.attrs(r.id, r.attrs);
  }
}

describe('SFTP v3 reply decoder', () => {
  it('decodes any sequence of replies however the stream is cut, DATA straight into its target (property)', () => {
    fc.assert(
      fc.property(fc.array(replyArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (sent, cuts) => {
        // Prepare: unique ids so each DATA has its own target
        const replies = sent.map((r, i) => ({ ...r, id: i + 1 }));
        const targets = new Map<number, DataTarget>();
        for (const r of replies) if (r.kind === 'data' && r.targeted) targets.set(r.id, { buf: Buffer.alloc(r.data.length + 8, 0xee), off: 4, max: r.data.length });
        const got: Reply[] = [];
        const decoder = new ReplyDecoder((r) => got.push(r), (id) => targets.get(id));
        const wire = Buffer.concat(replies.map(encodeSent));
        // Act
        for (const chunk of cutsOf(wire, cuts)) decoder.push(chunk);
        // Assess
        expect(got).toHaveLength(replies.length);
        replies.forEach((r, i) => {
          const g = got[i]!;
          expect(g.type === 'data' || g.type === 'status' || g.type === 'handle' || g.type === 'attrs').toBe(true);
          expect((g as { id: number }).id).toBe(r.id);
          if (r.kind === 'status') expect(g).toEqual({ type: 'status', id: r.id, code: r.code, message: r.message });
          if (r.kind === 'handle') expect(g).toEqual({ type: 'handle', id: r.id, handle: r.handle });
          if (r.kind === 'attrs') expect(g).toEqual({ type: 'attrs', id: r.id, attrs: r.attrs });
          if (r.kind === 'data') {
            expect((g as { length: number }).length).toBe(r.data.length);
            const t = targets.get(r.id);
            if (t) {
              expect((g as { data?: Buffer }).data).toBeUndefined();
              expect(t.buf.subarray(4, 4 + r.data.length).equals(r.data)).toBe(true);
              expect(t.buf.subarray(0, 4).every((b) => b === 0xee)).toBe(true);
              expect(t.buf.subarray(4 + r.data.length).every((b) => b === 0xee)).toBe(true);
            } else {
              expect((g as { data?: Buffer }).data?.equals(r.data)).toBe(true);
            }
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('decodes VERSION with its extensions and the limits@openssh.com reply', () => {
    // Prepare
    const got: Reply[] = [];
    const d = new ReplyDecoder((r) => got.push(r));
    const limits = Buffer.alloc(32);
    [34000, 261120, 261120, 1024].forEach((v, i) => limits.writeBigUInt64BE(BigInt(v), i * 8));
    // Act
    d.push(encodeReply.version(3, { 'limits@openssh.com': '1', 'fsync@openssh.com': '1' }));
    d.push(encodeReply.extendedReply(7, limits));
    // Assess
    expect(got[0]).toEqual({ type: 'version', version: 3, extensions: { 'limits@openssh.com': '1', 'fsync@openssh.com': '1' } });
    expect(got[1]!.type).toBe('extended-reply');
    expect(decodeLimits((got[1] as { body: Buffer }).body)).toEqual({ maxPacketLength: 34000, maxReadLength: 261120, maxWriteLength: 261120, maxOpenHandles: 1024 });
  });

  it('refuses a DATA reply longer than the READ asked for, a bad length and an unknown reply type', () => {
    // Prepare
    const target = { buf: Buffer.alloc(10), off: 0, max: 10 };
    const long = new ReplyDecoder(() => {}, () => target);
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(64 * 1024 * 1024, 0);
    huge[4] = FXP.STATUS;
    const unknown = Buffer.from([0, 0, 0, 5, 99, 0, 0, 0, 1]);
    // Act / Assess
    expect(() => long.push(encodeReply.data(1, Buffer.alloc(11)))).toThrow(SftpProtocolError);
    expect(() => new ReplyDecoder(() => {}).push(huge)).toThrow(/out of range/);
    expect(() => new ReplyDecoder(() => {}).push(unknown)).toThrow(/unexpected reply type 99/);
  });

  it('encodes requests as SFTP v3 lays them out', () => {
    // Prepare
    const handle = Buffer.from('h1');
    // Act
    const read = encode.read(9, handle, 2 ** 40 + 5, 261120);
    const open = encode.openRead(3, '/data/x');
    // Assess: length, type, id, string handle, uint64 offset, uint32 length
    expect(read.readUInt32BE(0)).toBe(read.length - 4);
    expect(read[4]).toBe(FXP.READ);
    expect(read.readUInt32BE(5)).toBe(9);
    expect(read.readUInt32BE(9)).toBe(2);
    expect(read.subarray(13, 15).toString()).toBe('h1');
    expect(read.readBigUInt64BE(15)).toBe(BigInt(2 ** 40 + 5));
    expect(read.readUInt32BE(23)).toBe(261120);
    // OPEN: id, path, pflags READ, empty attrs
    expect(open[4]).toBe(FXP.OPEN);
    expect(open.subarray(13, 20).toString()).toBe('/data/x');
    expect(open.readUInt32BE(20)).toBe(1);
    expect(open.readUInt32BE(24)).toBe(0);
    expect(encode.init()).toEqual(Buffer.from([0, 0, 0, 5, FXP.INIT, 0, 0, 0, 3]));
  });
});
