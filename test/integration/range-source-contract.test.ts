/**
 * The RangeSource contract (test/contract/range-source.ts) over every source kind, each against a real
 * server on loopback: http and https (local HTTP source, https with a throw-away CA; over the hand-written
 * transport and over undici), oss (local OSS through
 * ali-oss), sftp (OpenSSH sshd).
 */
import { randomBytes } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll } from 'vitest';
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

beforeAll(async () => {
  pki = makeTestPki();
  http = await startHttpSourceServer();
  https = await startHttpSourceServer({ tls: { key: pki.key, cert: pki.cert } });
  oss = await startOssServer({ buckets: ['contract'], fsync: false });
  ossClient = new OSS(oss.clientOptions('contract'));
  sshd = await startSshd({ files: { 'data/.keep': '' } });
});
afterAll(async () => {
  await http?.close();
  await https?.close();
  await oss?.close();
  await sshd?.close();
});

const httpKinds = [
  ['http', () => http, undefined, 'raw'],
  ['https', () => https, () => pki.caCert, 'raw'],
  ['http over undici', () => http, undefined, 'undici'],
  ['https over undici', () => https, () => pki.caCert, 'undici'],
] as const;
for (const [name, server, ca, transport] of httpKinds) {
  rangeSourceContract(
    name,
    () => ({
      validators: ['etag'],
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
  );
}

rangeSourceContract(
  'oss',
  () => ({
    validators: ['crc64'],
    async create(data) {
      const key = `c/${fresh()}`;
      await ossClient.put(key, data);
      return { source: openSource(`oss://contract/${key}`, { ossClientFor: () => ossClient }), change: async (next) => void (await ossClient.put(key, next)) };
    },
    cutBodies: (on) => oss.setFaults(on ? { operations: { GetObject: { resetRate: 1 } } } : {}),
  }),
  { cutBodies: true },
);

rangeSourceContract('sftp', () => ({
  // SFTP v3 carries whole-second mtimes: size + mtime is what pins an SFTP source (checked on every read).
  validators: ['mtime'],
  async create(data) {
    const rel = `data/${fresh()}`;
    const file = path.join(sshd.root, rel);
    await writeFile(file, data);
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    return {
      source: new SftpSource({ url: sshd.urlFor(rel), privateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeyFingerprint, allowedHosts: '127.0.0.1', env: {} }),
      // A later version: new bytes written now, so its mtime is a later second than the pinned one.
      change: async (next) => writeFile(file, next),
    };
  },
}));
