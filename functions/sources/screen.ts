/**
 * SSRF screening, network part: resolve a source host once, screen EVERY resolved address with
 * shared/ssrf.ts, and hand the connection a `lookup` that returns only the screened address. Node never
 * resolves the name again, so a DNS answer that changes between check and connect (rebinding, TOCTOU)
 * cannot redirect the socket. Refusal happens before any socket exists.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { safeUrl } from '../../shared/log.ts';
import { parseAllowList, parseIp, screenAddress, type AllowList, type BlockReason } from '../../shared/ssrf.ts';
import { SourceUnavailableError } from './types.ts';

/** Resolves a host name to all its addresses (the shape of dns.promises.lookup with {all: true}). */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

/** The default resolver: the system resolver, all addresses, in the order it returns them. */
export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** A source URL refused by SSRF screening. Bad input, never retried. */
export class SourceRefusedError extends InvalidInputError {}

/** Where to connect: the URL's host name (for Host/SNI) pinned to one screened address. */
export interface ScreenedTarget {
  url: URL;
  /** URL host name without brackets. */
  hostname: string;
  address: string;
  family: 4 | 6;
  port: number;
}

export interface ScreenOptions {
  allow: AllowList;
  resolver?: Resolver;
  /** Name of the job field the URL came from, for error messages. Default "source". */
  field?: string;
}

/** The allow-list from env OSSFERRY_ALLOWED_SOURCE_HOSTS merged with extra entries (job deps). */
export function allowListFromEnv(env: Record<string, string | undefined> = process.env, extra?: string | readonly string[]): AllowList {
  const fromEnv = parseAllowList(env[FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]);
  const more = parseAllowList(extra);
  return { entries: [...fromEnv.entries, ...more.entries] };
}

/**
 * The one screen every endpoint a job names goes through (source URL, redirect target, SFTP host, OSS
 * endpoint): resolves the host (IP literals are not resolved), refuses if ANY address is refused (a name
 * that resolves to one public and one private address is an attack, not a fallback), and returns the
 * addresses in resolver order. `permit` lets through address classes a caller knows to be legitimate for
 * this host (OSS internal endpoints live in 100.64.0.0/10); the metadata service is never permitted.
 */
export async function screenHost(hostname: string, options: ScreenOptions & { permit?: readonly BlockReason[] }): Promise<Array<{ address: string; family: 4 | 6 }>> {
  const field = options.field ?? 'source';
  const literal = parseIp(hostname);
  let addresses: Array<{ address: string; family: number }>;
  if (literal) {
    addresses = [{ address: hostname, family: literal.family }];
  } else {
    try {
      addresses = await (options.resolver ?? systemResolver)(hostname);
    } catch (err) {
      throw new SourceUnavailableError(`cannot resolve ${hostname}`, { cause: err });
    }
    if (addresses.length === 0) throw new SourceUnavailableError(`${hostname} resolved to no address`);
  }
  for (const a of addresses) {
    const verdict = screenAddress(hostname, a.address, options.allow);
    if (verdict.ok || (verdict.reason !== 'metadata' && verdict.reason !== 'unparseable' && options.permit?.includes(verdict.reason))) continue;
    throw new SourceRefusedError(
      field,
      `host ${hostname} resolves to ${a.address} (${verdict.reason}), which sources may not reach`,
      verdict.reason === 'metadata'
        ? 'the instance metadata service is never a valid source'
        : `use a public source, or if this host is intended add it (or its CIDR) to ${FUNCTION_ENV.ALLOWED_SOURCE_HOSTS}`,
    );
  }
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/** Checks the scheme (http/https only), screens the host (screenHost) and returns the first address to connect to. */
export async function screenUrl(input: string | URL, options: ScreenOptions): Promise<ScreenedTarget> {
  const field = options.field ?? 'source';
  const url = typeof input === 'string' ? new URL(input) : input;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SourceRefusedError(field, `scheme ${url.protocol} is not allowed for HTTP sources`, 'use an http:// or https:// URL');
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  let first: { address: string; family: 4 | 6 };
  try {
    first = (await screenHost(hostname, options))[0]!;
  } catch (err) {
    if (err instanceof SourceUnavailableError) throw new SourceUnavailableError(`${err.message} (${safeUrl(url.toString())})`, { cause: err.cause });
    throw err;
  }
  return { url, hostname, address: first.address, family: first.family, port };
}

/**
 * A `lookup` for http.request/net.connect that always answers with the screened address: the socket can
 * only go where screening said it may.
 */
export function pinnedLookup(target: ScreenedTarget): LookupFunction {
  return ((_host: string, opts: { all?: boolean } | number | undefined, cb: (...args: unknown[]) => void) => {
    const callback = typeof opts === 'function' ? (opts as (...args: unknown[]) => void) : cb;
    const all = typeof opts === 'object' && opts !== null && opts.all === true;
    if (all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as LookupFunction;
}

/** Adapter for the SFTP source's `screenHost` option: resolve + screen, return the address. */
export function screenHostWith(options: ScreenOptions): (host: string) => Promise<string> {
  return async (host) => {
    const t = await screenUrl(`http://${host.includes(':') ? `[${host}]` : host}/`, options);
    return t.address;
  };
}

/**
 * A `lookup` for connections whose host is not known up front (ali-oss connects to `<bucket>.<endpoint>`):
 * every connection's host is screened (screenHost) when the socket is opened, and the socket goes to the
 * address screening returned, so no later DNS answer can redirect it. `acceptHost` refuses a host outright.
 */
export function screeningLookup(options: ScreenOptions & { permit?: readonly BlockReason[]; acceptHost?: (host: string) => boolean }): LookupFunction {
  return ((host: string, opts: unknown, cb?: (...args: unknown[]) => void) => {
    const callback = (typeof opts === 'function' ? opts : cb) as (...args: unknown[]) => void;
    const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all === true;
    const bare = host.replace(/^\[|\]$/g, '');
    const refused = options.acceptHost && !options.acceptHost(bare);
    const screened = refused
      ? Promise.reject(new SourceRefusedError(options.field ?? 'source', `connection to ${bare} refused`, 'name an OSS endpoint of the form oss-<region>[-internal].aliyuncs.com'))
      : screenHost(bare, options);
    screened.then(
      (addresses) => {
        if (all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as LookupFunction;
}
