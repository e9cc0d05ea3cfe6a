/**
 * Which OSS endpoints may receive the function's credentials (pure part; the network part is
 * functions/sources/screen.ts). A job can name the endpoint of an oss:// source (`sourceEndpoint`); every
 * request to it is signed with the function's STS credentials, so a job-named endpoint is accepted only when
 * it is an Alibaba Cloud OSS endpoint by name (`oss-<region>[-internal].aliyuncs.com`, the accelerate
 * endpoints), the deployment's own configured endpoint, or an operator allow-list entry. Anything else —
 * another host, an IP literal, the metadata service — is refused before any connection.
 */

/** Why a job-named OSS endpoint is refused. */
export type EndpointRefusal = 'syntax' | 'scheme' | 'userinfo' | 'path' | 'port' | 'not-oss';

/** How an accepted endpoint earned its trust; decides how its resolved addresses are screened. */
export type EndpointTrust = 'official' | 'configured' | 'allow-listed';

export type EndpointVerdict =
  | { ok: true; trust: EndpointTrust; url: URL; host: string }
  | { ok: false; reason: EndpointRefusal; detail: string };

export interface EndpointPolicy {
  /** The deployment's own OSS endpoint (env OSSFERRY_OSS_ENDPOINT): trusted as configured by the operator. */
  configured?: string;
  /** Operator allow-list of endpoints (`host` or `host:port`) that may receive credentials. */
  allowed?: readonly string[];
}

// oss-cn-hangzhou, oss-cn-hangzhou-internal, oss-ap-southeast-1, oss-cn-hangzhou-finance-1-internal, …
const REGIONAL = /^oss-[a-z]{2,}(?:-[a-z0-9]+)+\.aliyuncs\.com$/;
const ACCELERATE = /^oss-accelerate(?:-overseas)?\.aliyuncs\.com$/;

/** Whether a host name is an Alibaba Cloud OSS endpoint by its form (no port, no bucket prefix). */
export function isOfficialOssHost(host: string): boolean {
  const h = host.toLowerCase();
  return REGIONAL.test(h) || ACCELERATE.test(h);
}

/**
 * Whether a connection host is an official OSS endpoint or a bucket virtual host under one
 * (`bucket.oss-cn-hangzhou.aliyuncs.com`): ali-oss connects to the latter.
 */
export function isOfficialOssConnectHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (isOfficialOssHost(h)) return true;
  const dot = h.indexOf('.');
  return dot > 0 && /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/.test(h.slice(0, dot)) && isOfficialOssHost(h.slice(dot + 1));
}

/** Parses an endpoint as ali-oss would: a bare host gets https://. Undefined when it is no URL. */
export function endpointUrl(endpoint: string): URL | undefined {
  try {
    return new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`);
  } catch {
    return undefined;
  }
}

/** `host:port` with the scheme's default port made explicit, for comparing endpoints. */
function origin(u: URL): string {
  const port = u.port || (u.protocol === 'http:' ? '80' : '443');
  return `${u.hostname.toLowerCase()}:${port}`;
}

/** The endpoint's shape alone: http(s), a host, nothing else (no userinfo, path, query or fragment). */
export function endpointSyntax(endpoint: string): { ok: true; url: URL } | { ok: false; reason: EndpointRefusal; detail: string } {
  const url = endpointUrl(endpoint);
  if (!url || !url.hostname) return { ok: false, reason: 'syntax', detail: 'is not a host or URL' };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'scheme', detail: `scheme ${url.protocol} is not http(s)` };
  if (url.username || url.password) return { ok: false, reason: 'userinfo', detail: 'carries a user name or password' };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return { ok: false, reason: 'path', detail: 'has a path, query or fragment (an endpoint is a host only)' };
  }
  return { ok: true, url };
}

/** Decides whether a job-named endpoint may receive the function's credentials. */
export function checkOssEndpoint(endpoint: string, policy: EndpointPolicy = {}): EndpointVerdict {
  const syntax = endpointSyntax(endpoint);
  if (!syntax.ok) return syntax;
  const url = syntax.url;
  const host = url.hostname.toLowerCase();
  const here = origin(url);
  const configured = policy.configured ? endpointUrl(policy.configured) : undefined;
  if (configured && origin(configured) === here && configured.protocol === url.protocol) return { ok: true, trust: 'configured', url, host };
  for (const entry of policy.allowed ?? []) {
    const e = entry.trim().toLowerCase();
    if (!e) continue;
    // An entry without a port allows the host on the scheme's default port only.
    const allowed = endpointUrl(e);
    if (allowed && origin(allowed) === here) return { ok: true, trust: 'allow-listed', url, host };
  }
  if (isOfficialOssHost(host)) {
    if (url.port !== '') return { ok: false, reason: 'port', detail: `names port ${url.port}; OSS endpoints use the default port` };
    return { ok: true, trust: 'official', url, host };
  }
  return { ok: false, reason: 'not-oss', detail: `host ${host} is not an OSS endpoint (oss-<region>[-internal].aliyuncs.com)` };
}

/** Parses the allow-list env value (comma or whitespace separated `host[:port]` entries). */
export function parseEndpointAllowList(spec: string | undefined): string[] {
  return (spec ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
