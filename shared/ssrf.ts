/**
 * SSRF screening, pure part: parse IP literals, classify addresses a source must not reach, and match an
 * operator allow-list of hosts and CIDRs. The network part (resolve once, screen every address, connect
 * only to the screened one) is functions/sources/screen.ts.
 *
 * Why: a job names an arbitrary URL and the worker runs with the function's STS role inside the cloud
 * network. Reaching the metadata service (100.100.100.200 on Alibaba Cloud) would leak those credentials;
 * reaching loopback/private ranges would turn ossferry into a proxy into the VPC.
 */

/** A parsed IP address: 4 bytes (IPv4) or 16 bytes (IPv6). */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** Why an address is refused. */
export type BlockReason =
  | 'metadata'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'reserved'
  | 'broadcast';

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Dotted-decimal only: no octal ("010"), hex or shortened forms, which resolvers interpret inconsistently.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(input: string): Uint8Array | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length === 0 || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    tail = parseIpv4(s.slice(lastColon + 1));
    if (!tail) return undefined;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const gs = h.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = toGroups(halves[0]!);
  const rest = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}

/** Parses an IPv4 dotted-decimal or IPv6 literal (brackets and zone ids accepted). Undefined if not an IP. */
export function parseIp(text: string): IpAddress | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const v4 = parseIpv4(s);
  if (v4) return { family: 4, bytes: v4 };
  if (s.includes(':')) {
    const v6 = parseIpv6(s);
    if (v6) return { family: 6, bytes: v6 };
  }
  return undefined;
}

/** Canonical text of an address (IPv4 dotted, IPv6 lower-case uncompressed groups). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function prefixMatch(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((bytes[byte]! & mask) !== (prefix[byte]! & mask)) return false;
  }
  return true;
}

/** The IPv4 address embedded in an IPv6 one (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). */
export function embeddedIpv4(ip: IpAddress): Uint8Array | undefined {
  if (ip.family !== 6) return undefined;
  const b = ip.bytes;
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16); // ::ffff:0:0/96
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1)) return b.slice(12, 16); // ::a.b.c.d (not ::, ::1)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12, 16); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6); // 2002::/16
  return undefined;
}

const V4_RULES: ReadonlyArray<readonly [string, number, BlockReason]> = [
  // The Alibaba Cloud instance metadata service: checked first so it reports as such.
  ['100.100.100.200', 32, 'metadata'],
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['255.255.255.255', 32, 'broadcast'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6_RULES: ReadonlyArray<readonly [string, number, BlockReason]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fe80::', 10, 'link-local'],
  ['fc00::', 7, 'unique-local'],
  ['ff00::', 8, 'multicast'],
  ['fec0::', 10, 'reserved'], // deprecated site-local
  ['100::', 64, 'reserved'], // discard-only
];

const compile = (rules: ReadonlyArray<readonly [string, number, BlockReason]>) =>
  rules.map(([net, bits, reason]) => ({ net: parseIp(net)!.bytes, bits, reason }));
const V4 = compile(V4_RULES);
const V6 = compile(V6_RULES);

/**
 * Why `ip` must not be reached, or undefined when it is a public unicast address. IPv6 forms that embed
 * an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the embedded address, so
 * `::ffff:127.0.0.1` or `::ffff:100.100.100.200` cannot slip through.
 */
export function classifyAddress(ip: IpAddress): BlockReason | undefined {
  if (ip.family === 4) return V4.find((r) => prefixMatch(ip.bytes, r.net, r.bits))?.reason;
  const v6 = V6.find((r) => prefixMatch(ip.bytes, r.net, r.bits))?.reason;
  if (v6) return v6;
  const inner = embeddedIpv4(ip);
  return inner ? classifyAddress({ family: 4, bytes: inner }) : undefined;
}

/** One allow-list entry: an exact host name (case-insensitive), `*.suffix`, or a CIDR / single IP. */
export type AllowEntry =
  | { kind: 'host'; host: string }
  | { kind: 'suffix'; suffix: string }
  | { kind: 'cidr'; net: IpAddress; bits: number; text: string };

/** Parsed allow-list. Empty = only public addresses are reachable. */
export interface AllowList {
  readonly entries: readonly AllowEntry[];
}

/** Thrown by `parseAllowList` for an entry that is neither a host name nor a CIDR. */
export class AllowListSyntaxError extends Error {
  readonly entry: string;
  constructor(entry: string) {
    super(`not a host name, *.suffix, IP or CIDR: ${JSON.stringify(entry)}`);
    this.name = 'AllowListSyntaxError';
    this.entry = entry;
  }
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/**
 * Parses an allow-list: a comma/whitespace separated string (the OSSFERRY_ALLOWED_SOURCE_HOSTS form) or
 * an array of entries. Entries: `files.example.com`, `*.corp.example`, `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
 */
export function parseAllowList(spec: string | readonly string[] | undefined): AllowList {
  const raw = spec === undefined ? [] : typeof spec === 'string' ? spec.split(/[\s,]+/) : spec;
  const entries: AllowEntry[] = [];
  for (const item of raw) {
    const e = item.trim().toLowerCase();
    if (!e) continue;
    const slash = e.indexOf('/');
    const addrText = slash >= 0 ? e.slice(0, slash) : e;
    const ip = parseIp(addrText);
    if (ip) {
      const max = ip.family === 4 ? 32 : 128;
      const bitsText = slash >= 0 ? e.slice(slash + 1) : String(max);
      if (!/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) throw new AllowListSyntaxError(item);
      entries.push({ kind: 'cidr', net: ip, bits: Number(bitsText), text: e });
    } else if (e.startsWith('*.') && HOSTNAME.test(e.slice(2))) {
      entries.push({ kind: 'suffix', suffix: e.slice(1).replace(/\.$/, '') });
    } else if (slash < 0 && HOSTNAME.test(e)) {
      entries.push({ kind: 'host', host: e.replace(/\.$/, '') });
    } else {
      throw new AllowListSyntaxError(item);
    }
  }
  return { entries };
}

/** Merges allow-lists (env + job deps). */
export function mergeAllowLists(...lists: AllowList[]): AllowList {
  return { entries: lists.flatMap((l) => l.entries) };
}

function cidrContains(entry: { net: IpAddress; bits: number }, ip: IpAddress): boolean {
  if (entry.net.family === ip.family) return prefixMatch(ip.bytes, entry.net.bytes, entry.bits);
  // An IPv4 CIDR also covers the IPv4-mapped IPv6 form of its addresses.
  const inner = embeddedIpv4(ip);
  return entry.net.family === 4 && inner !== undefined && prefixMatch(inner, entry.net.bytes, entry.bits);
}

/** Whether the allow-list names this host (by name) or this address (by CIDR). */
export function isAllowed(list: AllowList, host: string, ip: IpAddress): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return list.entries.some((e) => {
    if (e.kind === 'host') return e.host === h;
    if (e.kind === 'suffix') return h.endsWith(e.suffix);
    return cidrContains(e, ip);
  });
}

/** Verdict for one resolved address of a source host. */
export type ScreenVerdict = { ok: true } | { ok: false; reason: BlockReason | 'unparseable' };

/**
 * Decides whether a source may connect to `address` (a resolved IP) for URL host `host`. Refused classes
 * pass only when the allow-list names the host or the address; the metadata service is never reachable,
 * whatever the allow-list says (the credentials it serves are the function's own).
 */
export function screenAddress(host: string, address: string, allow: AllowList): ScreenVerdict {
  const ip = parseIp(address);
  if (!ip) return { ok: false, reason: 'unparseable' };
  const reason = classifyAddress(ip);
  if (reason === undefined) return { ok: true };
  if (reason === 'metadata') return { ok: false, reason };
  return isAllowed(allow, host, ip) ? { ok: true } : { ok: false, reason };
}
