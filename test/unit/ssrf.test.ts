import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AllowListSyntaxError, classifyAddress, formatIp, parseAllowList, parseIp, screenAddress } from '../../shared/ssrf.ts';

const none = parseAllowList(undefined);

describe('classifyAddress', () => {
  it.each([
    ['100.100.100.200', 'metadata'],
    ['::ffff:100.100.100.200', 'metadata'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses %s as %s', (address, reason) => {
    // Prepare
    const ip = parseIp(address);
    // Act
    const got = ip && classifyAddress(ip);
    // Assess
    expect(got).toBe(reason);
  });

  it.each(['8.8.8.8', '47.96.1.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])('accepts public %s', (address) => {
    // Act
    const verdict = screenAddress('example.com', address, none);
    // Assess
    expect(verdict).toEqual({ ok: true });
  });

  it('refuses every address in 10/8, 127/8, 169.254/16 and their IPv4-mapped IPv6 forms (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(10, 127, 169), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b, c, d) => {
        // Prepare
        const v4 = `${a}.${a === 169 ? 254 : b}.${c}.${d}`;
        // Act
        const plain = screenAddress('h', v4, none);
        const mapped = screenAddress('h', `::ffff:${v4}`, none);
        // Assess
        expect(plain.ok).toBe(false);
        expect(mapped.ok).toBe(false);
      }),
    );
  });

  it('round-trips parse/format for IPv4 (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        // Act
        const ip = parseIp(s);
        // Assess
        expect(ip && formatIp(ip)).toBe(s);
      }),
    );
  });

  it('parses every fast-check IPv6 literal, agreeing with node:net on validity (property)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        // Act
        const ip = parseIp(s);
        // Assess
        expect(ip?.family).toBe(isIP(s));
      }),
    );
  });

  it.each(['1.2.3', '1.2.3.256', '01.2.3.4', '0x7f.0.0.1', '2130706433', 'example.com', '1::2::3', ':::'])('does not treat %s as an IP', (s) => {
    // Act
    const ip = parseIp(s);
    // Assess
    expect(ip).toBeUndefined();
  });
});

describe('allow-list', () => {
  it('lets a named host reach loopback, but not another host', () => {
    // Prepare
    const allow = parseAllowList('files.internal, other.example');
    // Act
    const named = screenAddress('FILES.internal.', '127.0.0.1', allow);
    const unnamed = screenAddress('evil.example', '127.0.0.1', allow);
    // Assess
    expect(named).toEqual({ ok: true });
    expect(unnamed).toEqual({ ok: false, reason: 'loopback' });
  });

  it('lets a CIDR reach private addresses inside it only (incl. the mapped IPv6 form)', () => {
    // Prepare
    const allow = parseAllowList(['10.1.0.0/16', 'fd00::/8']);
    // Act
    const inside = screenAddress('a', '10.1.200.3', allow);
    const mapped = screenAddress('a', '::ffff:10.1.0.1', allow);
    const outside = screenAddress('a', '10.2.0.1', allow);
    const v6 = screenAddress('a', 'fd00::5', allow);
    // Assess
    expect([inside.ok, mapped.ok, outside.ok, v6.ok]).toEqual([true, true, false, true]);
  });

  it('matches *.suffix entries on subdomains only', () => {
    // Prepare
    const allow = parseAllowList('*.corp.example');
    // Act
    const sub = screenAddress('a.corp.example', '10.0.0.1', allow);
    const lookalike = screenAddress('evilcorp.example', '10.0.0.1', allow);
    // Assess
    expect(sub.ok).toBe(true);
    expect(lookalike.ok).toBe(false);
  });

  it('never allows the metadata service, whatever the allow-list says', () => {
    // Prepare
    const allow = parseAllowList('100.64.0.0/10, 100.100.100.200, meta.example, 0.0.0.0/0');
    // Act
    const verdict = screenAddress('meta.example', '100.100.100.200', allow);
    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'metadata' });
  });

  it.each(['10.0.0.0/33', 'not a host!', '::1/129', 'a/b'])('rejects malformed entry %s', (entry) => {
    // Act
    const act = () => parseAllowList(entry);
    // Assess
    expect(act).toThrow(AllowListSyntaxError);
  });
});
