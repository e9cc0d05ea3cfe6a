/**
 * The RangeSource contract (test/contract/range-source.ts) over every scheme of the source registry, each
 * against a real server on loopback: http and https (local HTTP source, https with a throw-away CA; over the
 * hand-written transport and over undici), oss (local OSS through ali-oss), sftp (OpenSSH sshd), file (a
 * temporary directory as the file source root).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_SCHEMES, type SourceSchemeName } from '../../shared/sources.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { HttpSource } from '../../functions/sources/http.ts';
import { openSource } from '../../functions/sources/index.ts';
import { SftpSource } from '../../functions/sources/sftp.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { rangeSourceContract } from '../contract/range-source.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { makeTestPki, type TestPki } from '../helpers/tls.ts';

const loopback = parseAllowList('127.0.0.1');
const fresh = (ext = 'bin') => `f-${randomBytes(6).toString('hex')}.${ext}`;

let http: HttpSourceServer;
let https: HttpSourceServer;
let pki: TestPki;
let oss: LocalOss;
let ossClient: OSS;
let sshd: Sshd;
let fileRoot: string;

beforeAll(async () => {
  pki = makeTestPki();
  http = await startHttpSourceServer();
  https = await startHttpSourceServer({ tls: { key: pki.key, cert: pki.cert } });
  oss = await startOssServer({ buckets: ['contract'], fsync: false });
  ossClient = new OSS(oss.clientOptions('contract'));
  sshd = await startSshd({ files: { 'data/.keep': '' } });
  fileRoot = await mkdtemp(path.join(os.tmpdir(), 'ossferry-contract-'));
});
afterAll(async () => {
  await http?.close();
  await https?.close();
  await oss?.close();
  await sshd?.close();
  if (fileRoot) await rm(fileRoot, { recursive: true, force: true });
});

/** Schemes with a fixture below: every registry entry must have one. */
const covered = new Set<SourceSchemeName>();
const contract = (name: string, fixture: Parameters<typeof rangeSourceContract>[1], features?: Parameters<typeof rangeSourceContract>[2], scheme?: SourceSchemeName) => {
  if (scheme) covered.add(scheme);
  rangeSourceContract(name, fixture, features);
};

const httpKinds = [
  ['http', () => http, undefined, 'raw'],
  ['https', () => https, () => pki.caCert, 'raw'],
  ['http over undici', () => http, undefined, 'undici'],
  ['https over undici', () => https, () => pki.caCert, 'undici'],
] as const;
for (const [name, server, ca, transport] of httpKinds) {
  const scheme = name.startsWith('https') ? 'https' : 'http';
  contract(
    name,
    () => ({
      scheme,
      async create(data) {
        const p = `/${fresh()}`;
        server().setFile(p, data);
        return {
          source: new HttpSource(server().url(p), { allow: loopback, transport, ...(ca ? { ca: ca() } : {}) }),
          change: async (next) => server().setFile(p, next),
        };
      },
      cutBodies: (on) => server().setFaults(on ? { dropAfterBytes: 300 * 1024, count: 1000 } : undefined),
    }),
    { cutBodies: true },
    scheme,
  );
}

contract(
  'oss',
  () => ({
    scheme: 'oss',
    async create(data) {
      const key = `c/${fresh()}`;
      await ossClient.put(key, data);
      return { source: openSource(`oss://contract/${key}`, { ossClientFor: () => ossClient }), change: async (next) => void (await ossClient.put(key, next)) };
    },
    cutBodies: (on) => oss.setFaults(on ? { operations: { GetObject: { resetRate: 1 } } } : {}),
  }),
  { cutBodies: true },
  'oss',
);

for (const transport of ['openssh', 'ssh2'] as const) {
  contract(`sftp over ${transport}`, () => ({
    // SFTP v3 carries whole-second mtimes: size + mtime is what pins an SFTP source (checked on every read).
    scheme: 'sftp',
    async create(data) {
      const rel = `data/${fresh()}`;
      const file = path.join(sshd.root, rel);
      await writeFile(file, data);
      const old = new Date(Date.now() - 60_000);
      await utimes(file, old, old);
      return {
        source: new SftpSource({ url: sshd.urlFor(rel), privateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeyFingerprint, allowedHosts: '127.0.0.1', env: {}, transport }),
        // A later version: new bytes written now, so its mtime is a later second than the pinned one.
        change: async (next) => writeFile(file, next),
      };
    },
  }), {}, 'sftp');
}

contract(
  'file',
  () => ({
    scheme: 'file',
    async create(data) {
      const file = path.join(fileRoot, fresh());
      await writeFile(file, data);
      // As for SFTP: the pinned version is an earlier timestamp than any rewrite below (a rewrite within one
      // filesystem timestamp tick is caught by the content CRC-64 at the job's end, not by a read).
      const old = new Date(Date.now() - 60_000);
      await utimes(file, old, old);
      return {
        source: openSource(pathToFileURL(file).href, { fileSourceRoot: fileRoot }),
        change: async (next) => writeFile(file, next),
      };
    },
  }),
  {},
  'file',
);

describe('the contract covers the registry', () => {
  it('every scheme of the source registry has a fixture here', () => {
    // Assess
    expect([...covered].sort()).toEqual(Object.keys(SOURCE_SCHEMES).sort());
  });
});
