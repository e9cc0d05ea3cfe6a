import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOssEndpoint, endpointSyntax, isOfficialOssConnectHost, isOfficialOssHost } from '../../shared/oss-endpoint.ts';
import { screeningLookup, SourceRefusedError } from '../../functions/sources/screen.ts';
import { guardOssEndpoint } from '../../functions/sources/oss-endpoint.ts';

describe('checkOssEndpoint: which job-named endpoints may receive credentials', () => {
  it.each([
    'https://oss-cn-hangzhou.aliyuncs.com',
    'oss-cn-beijing.aliyuncs.com',
    'http://oss-cn-shanghai-internal.aliyuncs.com',
    'https://oss-ap-southeast-1.aliyuncs.com',
    'https://oss-cn-hangzhou-finance-1-internal.aliyuncs.com',
    'https://oss-accelerate.aliyuncs.com',
    'oss-accelerate-overseas.aliyuncs.com',
    'https://OSS-CN-HANGZHOU.ALIYUNCS.COM',
  ])('accepts the OSS endpoint %s as official', (endpoint) => {
    // Act
    const v = checkOssEndpoint(endpoint);
    // Assess
    expect(v).toMatchObject({ ok: true, trust: 'official' });
  });

  it.each([
    ['http://127.0.0.2:9000', 'not-oss'],
    ['127.0.0.2:9000', 'not-oss'],
    ['http://100.100.100.200', 'not-oss'],
    ['100.100.100.200', 'not-oss'],
    ['https://oss-cn-hangzhou.aliyuncs.com.evil.example', 'not-oss'],
    ['https://evil.example/oss-cn-hangzhou.aliyuncs.com', 'path'],
    ['https://oss-cn-hangzhou.aliyuncs.com@evil.example', 'userinfo'],
    ['https://user:pw@oss-cn-hangzhou.aliyuncs.com', 'userinfo'],
    ['https://oss-cn-hangzhou.aliyuncs.com:8443', 'port'],
    ['https://mybucket.oss-cn-hangzhou.aliyuncs.com', 'not-oss'],
    ['https://oss.aliyuncs.com.cn', 'not-oss'],
    ['https://ossx-cn-hangzhou.aliyuncs.com', 'not-oss'],
    ['ftp://oss-cn-hangzhou.aliyuncs.com', 'scheme'],
    ['https://oss-cn-hangzhou.aliyuncs.com/?x=1', 'path'],
    ['http://[::1]:9000', 'not-oss'],
    ['http://localhost:9000', 'not-oss'],
  ])('refuses %s (%s)', (endpoint, reason) => {
    // Act
    const v = checkOssEndpoint(endpoint);
    // Assess
    expect(v).toMatchObject({ ok: false, reason });
  });

  it('accepts the deployment’s configured endpoint and allow-listed ones, on their exact port only', () => {
    // Prepare
    const policy = { configured: 'http://127.0.0.1:9100', allowed: ['oss.corp.example', '10.1.2.3:9000'] };
    // Act
    const verdicts = {
      configured: checkOssEndpoint('http://127.0.0.1:9100', policy),
      configuredOtherPort: checkOssEndpoint('http://127.0.0.1:9101', policy),
      configuredOtherScheme: checkOssEndpoint('https://127.0.0.1:9100', policy),
      host: checkOssEndpoint('https://oss.corp.example', policy),
      hostOtherPort: checkOssEndpoint('https://oss.corp.example:8443', policy),
      hostPort: checkOssEndpoint('http://10.1.2.3:9000', policy),
      hostPortBare: checkOssEndpoint('10.1.2.3', policy),
    };
    // Assess
    expect(verdicts.configured).toMatchObject({ ok: true, trust: 'configured' });
    expect(verdicts.configuredOtherPort).toMatchObject({ ok: false, reason: 'not-oss' });
    expect(verdicts.configuredOtherScheme).toMatchObject({ ok: false });
    expect(verdicts.host).toMatchObject({ ok: true, trust: 'allow-listed' });
    expect(verdicts.hostOtherPort).toMatchObject({ ok: false });
    expect(verdicts.hostPort).toMatchObject({ ok: true, trust: 'allow-listed' });
    expect(verdicts.hostPortBare).toMatchObject({ ok: false });
  });

  it('property: an accepted endpoint without policy always has an official OSS host and no port, path or userinfo', () => {
    const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
    const candidate = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.tuple(label, label, fc.constantFrom('.aliyuncs.com', '.aliyuncs.com.x', '.example', ''), fc.constantFrom('', ':80', ':443', ':9000'), fc.constantFrom('https://', 'http://', '', 'u@'))
        .map(([a, b, tld, port, scheme]) => `${scheme}oss-${a}-${b}${tld}${port}`),
      fc.string(),
    );
    fc.assert(
      fc.property(candidate, (endpoint) => {
        const v = checkOssEndpoint(endpoint);
        if (!v.ok) return;
        expect(isOfficialOssHost(v.url.hostname)).toBe(true);
        expect(v.url.port).toBe('');
        expect(v.url.username + v.url.password + v.url.search + v.url.hash).toBe('');
        expect(v.url.pathname).toBe('/');
      }),
      { numRuns: 2000 },
    );
  });

  it('property: the syntax check keeps only bare http(s) hosts', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (u) => {
        const r = endpointSyntax(u);
        const parsed = new URL(u);
        const bare = parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username && !parsed.password;
        expect(r.ok).toBe(bare);
      }),
    );
  });

  it('knows bucket virtual hosts under an OSS endpoint from look-alikes', () => {
    // Assess
    expect(isOfficialOssConnectHost('mybucket.oss-cn-hangzhou.aliyuncs.com')).toBe(true);
    expect(isOfficialOssConnectHost('oss-cn-hangzhou-internal.aliyuncs.com')).toBe(true);
    expect(isOfficialOssConnectHost('a.b.oss-cn-hangzhou.aliyuncs.com')).toBe(false);
    expect(isOfficialOssConnectHost('mybucket.evil.example')).toBe(false);
    expect(isOfficialOssConnectHost('127.0.0.1')).toBe(false);
  });
});

/** Runs a lookup function the way net.connect does (all: true, as with autoSelectFamily). */
function lookupAll(lookup: ReturnType<typeof screeningLookup>, host: string): Promise<Array<{ address: string; family: number }>> {
  return new Promise((resolve, reject) => {
    (lookup as unknown as (h: string, o: object, cb: (err: unknown, a?: unknown) => void) => void)(host, { all: true }, (err, a) => (err ? reject(err) : resolve(a as never)));
  });
}

describe('guardOssEndpoint: the connections of an accepted endpoint are screened', () => {
  const resolverTo = (address: string) => async () => [{ address, family: 4 }];

  it('refuses a loopback trap before any connection, naming the field and the fix', () => {
    // Act
    const act = () => guardOssEndpoint('http://127.0.0.2:9', { env: { OSSFERRY_OSS_ENDPOINT: 'http://127.0.0.1:9100' } });
    // Assess
    expect(act).toThrow(SourceRefusedError);
    expect(act).toThrow(/^sourceEndpoint: .*127\.0\.0\.2:9.* is not an OSS endpoint.*credentials.*Fix: .*OSSFERRY_ALLOWED_OSS_ENDPOINTS/);
  });

  it('an official name that resolves to the metadata service, loopback or a private range is refused at connect', async () => {
    for (const address of ['100.100.100.200', '127.0.0.1', '10.0.0.5', '192.168.1.1']) {
      // Prepare
      const g = guardOssEndpoint('https://oss-cn-hangzhou-internal.aliyuncs.com', { env: {}, resolver: resolverTo(address) });
      // Act
      const act = lookupAll(g.lookup!, 'bucket.oss-cn-hangzhou-internal.aliyuncs.com');
      // Assess
      await expect(act).rejects.toBeInstanceOf(SourceRefusedError);
    }
  });

  it('an official internal endpoint may resolve into 100.64.0.0/10 (where OSS internal endpoints live)', async () => {
    // Prepare
    const g = guardOssEndpoint('https://oss-cn-hangzhou-internal.aliyuncs.com', { env: {}, resolver: resolverTo('100.118.28.17') });
    // Act
    const got = await lookupAll(g.lookup!, 'bucket.oss-cn-hangzhou-internal.aliyuncs.com');
    // Assess
    expect(got).toEqual([{ address: '100.118.28.17', family: 4 }]);
  });

  it('a connection to any host outside the endpoint is refused even if it resolves publicly', async () => {
    // Prepare
    const g = guardOssEndpoint('https://oss-cn-hangzhou.aliyuncs.com', { env: {}, resolver: resolverTo('8.8.8.8') });
    // Act
    const act = lookupAll(g.lookup!, 'evil.example');
    // Assess
    await expect(act).rejects.toThrow(/connection to evil\.example refused/);
  });

  it('the configured endpoint needs no screening; an allow-listed one may be private but never the metadata service', async () => {
    // Prepare
    const env = { OSSFERRY_OSS_ENDPOINT: 'http://127.0.0.1:9100', OSSFERRY_ALLOWED_OSS_ENDPOINTS: 'oss.corp.example' };
    // Act
    const configured = guardOssEndpoint('http://127.0.0.1:9100', { env });
    const corp = guardOssEndpoint('https://oss.corp.example', { env, resolver: resolverTo('10.2.3.4') });
    const corpMeta = guardOssEndpoint('https://oss.corp.example', { env, resolver: resolverTo('100.100.100.200') });
    // Assess
    expect(configured.lookup).toBeUndefined();
    expect(await lookupAll(corp.lookup!, 'b.oss.corp.example')).toEqual([{ address: '10.2.3.4', family: 4 }]);
    await expect(lookupAll(corpMeta.lookup!, 'b.oss.corp.example')).rejects.toThrow(/metadata/);
  });
});
