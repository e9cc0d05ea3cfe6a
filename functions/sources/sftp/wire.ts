/**
 * SFTP version 3 (draft-ietf-secsh-filexfer-02, what OpenSSH's sftp-server speaks) for a read-only client:
 * request encoders and an incremental reply decoder. Pure: no I/O, property-tested (test/unit/sftp-wire.test.ts).
 *
 * The decoder is the hot path of the OpenSSH transport: a DATA reply's bytes are copied from the incoming chunks
 * straight into the buffer its READ named (`dataTarget`), never gathered into a packet first.
 */

export const FXP = Object.freeze({
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  FSTAT: 8,
  STAT: 17,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
});

/** SSH_FX_* status codes a reader acts on. */
export const FX = Object.freeze({ OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 });

const FXF_READ = 0x1;
const ATTR_SIZE = 0x1;
const ATTR_UIDGID = 0x2;
const ATTR_PERMISSIONS = 0x4;
const ATTR_ACMODTIME = 0x8;
const ATTR_EXTENDED = 0x80000000;

/** Larger packets are refused: OpenSSH's sftp-server never sends more than 256 KiB of payload. */
export const MAX_PACKET = 1024 * 1024 + 1024;

export interface FileAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  permissions?: number;
  atime?: number;
  /** Seconds since the epoch (SFTP v3 has no finer resolution). */
  mtime?: number;
}

/** Every reply the client understands, by type. */
export type Reply =
  | { type: 'version'; version: number; extensions: Record<string, string> }
  | { type: 'status'; id: number; code: number; message: string }
  | { type: 'handle'; id: number; handle: Buffer }
  | { type: 'data'; id: number; length: number; /** bytes, when no dataTarget took them */ data?: Buffer }
  | { type: 'attrs'; id: number; attrs: FileAttrs }
  | { type: 'extended-reply'; id: number; body: Buffer };

/** The protocol was broken by the peer (bad length, unknown reply): the session cannot continue. */
export class SftpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SftpProtocolError';
  }
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const out = Buffer.allocUnsafe(4 + b.length);
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

function packet(type: number, body: Buffer[]): Buffer {
  const len = 1 + body.reduce((a, b) => a + b.length, 0);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(len, 0);
  head.writeUInt8(type, 4);
  return Buffer.concat([head, ...body], 4 + len);
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}

export const encode = Object.freeze({
  init: (version = 3): Buffer => packet(FXP.INIT, [u32(version)]),
  /** OPEN for reading, no attributes. */
  openRead: (id: number, path: string): Buffer => packet(FXP.OPEN, [u32(id), str(path), u32(FXF_READ), u32(0)]),
  close: (id: number, handle: Buffer): Buffer => packet(FXP.CLOSE, [u32(id), str(handle)]),
  read: (id: number, handle: Buffer, offset: number, length: number): Buffer =>
    packet(FXP.READ, [u32(id), str(handle), u64(offset), u32(length)]),
  fstat: (id: number, handle: Buffer): Buffer => packet(FXP.FSTAT, [u32(id), str(handle)]),
  stat: (id: number, path: string): Buffer => packet(FXP.STAT, [u32(id), str(path)]),
  extended: (id: number, name: string, body: Buffer = Buffer.alloc(0)): Buffer => packet(FXP.EXTENDED, [u32(id), str(name), body]),
});

/** A cursor over one complete packet body. */
class Cursor {
  off = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  #need(n: number): void {
    if (this.off + n > this.buf.length) throw new SftpProtocolError(`reply truncated: needed ${n} bytes at ${this.off} of ${this.buf.length}`);
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SftpProtocolError(`64-bit value ${v} exceeds 2^53`);
    return Number(v);
  }
  bytes(): Buffer {
    const n = this.u32();
    this.#need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  get left(): number {
    return this.buf.length - this.off;
  }
}

function decodeAttrs(c: Cursor): FileAttrs {
  const flags = c.u32();
  const a: FileAttrs = {};
  if (flags & ATTR_SIZE) a.size = c.u64();
  if (flags & ATTR_UIDGID) {
    a.uid = c.u32();
    a.gid = c.u32();
  }
  if (flags & ATTR_PERMISSIONS) a.permissions = c.u32();
  if (flags & ATTR_ACMODTIME) {
    a.atime = c.u32();
    a.mtime = c.u32();
  }
  if (flags & ATTR_EXTENDED) {
    const n = c.u32();
    for (let i = 0; i < n; i++) {
      c.bytes();
      c.bytes();
    }
  }
  return a;
}

/** Encodes attributes (for tests and a fake server): exactly the fields present. */
export function encodeAttrs(a: FileAttrs): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  if (a.size !== undefined) {
    flags |= ATTR_SIZE;
    parts.push(u64(a.size));
  }
  if (a.uid !== undefined || a.gid !== undefined) {
    flags |= ATTR_UIDGID;
    parts.push(u32(a.uid ?? 0), u32(a.gid ?? 0));
  }
  if (a.permissions !== undefined) {
    flags |= ATTR_PERMISSIONS;
    parts.push(u32(a.permissions));
  }
  if (a.atime !== undefined || a.mtime !== undefined) {
    flags |= ATTR_ACMODTIME;
    parts.push(u32(a.atime ?? 0), u32(a.mtime ?? 0));
  }
  return Buffer.concat([u32(flags), ...parts]);
}

/** Server-side encoders, for the decoder's tests. */
export const encodeReply = Object.freeze({
  version: (version: number, extensions: Record<string, string> = {}): Buffer =>
    packet(FXP.VERSION, [u32(version), ...Object.entries(extensions).flatMap(([k, v]) => [str(k), str(v)])]),
  status: (id: number, code: number, message = ''): Buffer => packet(FXP.STATUS, [u32(id), u32(code), str(message), str('')]),
  handle: (id: number, handle: Buffer): Buffer => packet(FXP.HANDLE, [u32(id), str(handle)]),
  data: (id: number, data: Buffer): Buffer => packet(FXP.DATA, [u32(id), str(data)]),
  attrs: (id: number, a: FileAttrs): Buffer => packet(FXP.ATTRS, [u32(id), encodeAttrs(a)]),
  extendedReply: (id: number, body: Buffer): Buffer => packet(FXP.EXTENDED_REPLY, [u32(id), body]),
});

/** limits@openssh.com reply body: max packet, read, write lengths and open handles. */
export function decodeLimits(body: Buffer): { maxPacketLength: number; maxReadLength: number; maxWriteLength: number; maxOpenHandles: number } {
  const c = new Cursor(body);
  return { maxPacketLength: c.u64(), maxReadLength: c.u64(), maxWriteLength: c.u64(), maxOpenHandles: c.u64() };
}

/** Where a DATA reply's bytes go: `buf[off, off + max)`; more than `max` bytes is a protocol error. */
export interface DataTarget {
  buf: Buffer;
  off: number;
  max: number;
}

const HEAD = 5; // length, type
const DATA_HEAD = 13; // + request id and the data string's length

/**
 * Incremental reply decoder. `push()` takes the transport's chunks in order and calls `onReply` once per reply.
 * For DATA, `dataTarget(id)` may name the destination; its bytes then go there directly and the reply carries
 * only the length.
 */
export class ReplyDecoder {
  readonly #head = Buffer.alloc(DATA_HEAD);
  #headLen = 0;
  /** A whole packet being gathered (length field included). */
  #packet: Buffer | undefined;
  #packetLen = 0;
  /** A DATA reply's bytes being copied into their target. */
  #data: { id: number; target: DataTarget; length: number; copied: number } | undefined;

  readonly #onReply: (r: Reply) => void;
  readonly #dataTarget: (id: number) => DataTarget | undefined;
  constructor(onReply: (r: Reply) => void, dataTarget: (id: number) => DataTarget | undefined = () => undefined) {
    this.#onReply = onReply;
    this.#dataTarget = dataTarget;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const d = this.#data;
      if (d) {
        const n = Math.min(d.length - d.copied, chunk.length - off);
        chunk.copy(d.target.buf, d.target.off + d.copied, off, off + n);
        d.copied += n;
        off += n;
        if (d.copied === d.length) this.#endData();
        continue;
      }
      const p = this.#packet;
      if (p) {
        const n = Math.min(p.length - this.#packetLen, chunk.length - off);
        chunk.copy(p, this.#packetLen, off, off + n);
        this.#packetLen += n;
        off += n;
        if (this.#packetLen === p.length) {
          this.#packet = undefined;
          this.#onReply(decodeReply(p.subarray(4)));
        }
        continue;
      }
      // A header: 5 bytes say the length and type; a DATA reply needs 8 more (id, data length).
      const need = this.#headLen >= HEAD && this.#head[4] === FXP.DATA ? DATA_HEAD : HEAD;
      const n = Math.min(need - this.#headLen, chunk.length - off);
      chunk.copy(this.#head, this.#headLen, off, off + n);
      this.#headLen += n;
      off += n;
      if (this.#headLen < need) continue;
      const len = this.#head.readUInt32BE(0);
      if (len < HEAD || len > MAX_PACKET) throw new SftpProtocolError(`reply length ${len} is out of range`);
      const type = this.#head[4]!;
      if (type === FXP.DATA) {
        if (this.#headLen < DATA_HEAD) continue; // read the rest of the DATA header next
        if (len < DATA_HEAD - 4) throw new SftpProtocolError(`DATA reply of length ${len} is too short`);
        const id = this.#head.readUInt32BE(5);
        const dlen = this.#head.readUInt32BE(9);
        if (dlen !== len - 9) throw new SftpProtocolError(`DATA length ${dlen} does not match its packet (${len})`);
        const target = this.#dataTarget(id);
        if (target) {
          if (dlen > target.max) throw new SftpProtocolError(`DATA of ${dlen} bytes answers a READ of ${target.max}`);
          this.#headLen = 0;
          this.#data = { id, target, length: dlen, copied: 0 };
          if (dlen === 0) this.#endData();
          continue;
        }
      }
      const packet = Buffer.allocUnsafe(4 + len);
      this.#head.copy(packet, 0, 0, this.#headLen);
      this.#packetLen = this.#headLen;
      this.#headLen = 0;
      if (this.#packetLen === packet.length) this.#onReply(decodeReply(packet.subarray(4)));
      else this.#packet = packet;
    }
  }

  #endData(): void {
    const d = this.#data!;
    this.#data = undefined;
    this.#onReply({ type: 'data', id: d.id, length: d.length });
  }
}

/** Decodes one packet body (type byte first). */
export function decodeReply(body: Buffer): Reply {
  const c = new Cursor(body);
  c.off = 1;
  const type = body[0];
  switch (type) {
    case FXP.VERSION: {
      const version = c.u32();
      const extensions: Record<string, string> = {};
      while (c.left > 0) {
        const k = c.bytes().toString('utf8');
        extensions[k] = c.bytes().toString('utf8');
      }
      return { type: 'version', version, extensions };
    }
    case FXP.STATUS: {
      const id = c.u32();
      const code = c.u32();
      // Some servers omit the message and language tag.
      const message = c.left >= 4 ? c.bytes().toString('utf8') : '';
      return { type: 'status', id, code, message };
    }
    case FXP.HANDLE: {
      const id = c.u32();
      return { type: 'handle', id, handle: Buffer.from(c.bytes()) };
    }
    case FXP.DATA: {
      const id = c.u32();
      const data = Buffer.from(c.bytes());
      return { type: 'data', id, length: data.length, data };
    }
    case FXP.ATTRS: {
      const id = c.u32();
      return { type: 'attrs', id, attrs: decodeAttrs(c) };
    }
    case FXP.EXTENDED_REPLY: {
      const id = c.u32();
      return { type: 'extended-reply', id, body: Buffer.from(body.subarray(c.off)) };
    }
    default:
      throw new SftpProtocolError(`unexpected reply type ${type}`);
  }
}
