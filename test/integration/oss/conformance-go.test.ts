/**
 * Conformance in a second language: the official Alibaba Cloud OSS Go SDK (Debian's
 * golang-github-aliyun-aliyun-oss-go-sdk-dev) against the local OSS over HTTP, through every operation the SDK
 * offers that the local OSS implements (test/conformance-go/main.go: one JSON line per operation, with the SDK's
 * own CRC-64 checks plus explicit x-oss-hash-crc64ecma comparisons). Signature V1, path-style addressing on an
 * IP endpoint — the other wire shape from ali-oss's Host-header addressing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { buildGoConformance } from '../../conformance-go/build.ts';

/** Every operation main.go runs, in its order. */
const OPERATIONS = [
  'CreateBucket',
  'CreateBucketAlreadyExists',
  'IsBucketExist',
  'ListBuckets',
  'GetBucketInfo',
  'GetBucketLocation',
  'PutObject',
  'PutObjectFromFile',
  'GetObject',
  'GetObjectToFile',
  'GetObjectRange',
  'GetObjectDetailedMeta',
  'GetObjectMeta',
  'IsObjectExist',
  'GetObjectNoSuchKey',
  'GetObjectIfMatch',
  'CopyObject',
  'CopyObjectTo',
  'CopyObjectFrom',
  'SetObjectMeta',
  'AppendObject',
  'ListObjects',
  'DeleteObject',
  'DeleteObjects',
  'DeleteObjectsQuiet',
  'NonAsciiKey',
  'InitiateMultipartUpload',
  'UploadPart',
  'UploadPartFromFile',
  'ListUploadedParts',
  'ListMultipartUploads',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'UploadPartCopy',
  'UploadFile',
  'DownloadFile',
  'CopyFile',
  'DeleteBucket',
] as const;

interface OpLine {
  op: string;
  ok: boolean;
  error?: string;
}

let oss: LocalOss;
let work: string;
let run: { code: number | null; lines: OpLine[]; stderr: string };

beforeAll(async () => {
  const bin = await buildGoConformance();
  oss = await startOssServer({ fsync: false });
  work = await mkdtemp(path.join(os.tmpdir(), 'ossferry-go-conf-'));
  run = await new Promise((resolve, reject) => {
    // Credentials through the environment, not argv (process listings).
    const child = spawn(bin, [], {
      env: { OSS_ENDPOINT: oss.endpoint, OSS_ACCESS_KEY_ID: oss.accessKeyId, OSS_ACCESS_KEY_SECRET: oss.accessKeySecret, OSS_BUCKET: 'go-sdk', OSS_WORK_DIR: work },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as OpLine);
      resolve({ code, lines, stderr });
    });
  });
}, 120_000);
afterAll(async () => {
  await oss?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the OSS Go SDK against the local OSS', () => {
  it.each(OPERATIONS)('%s succeeds', (op) => {
    // Assess: the line carries the SDK's error text when it failed.
    expect(run.lines.find((l) => l.op === op)).toEqual({ op, ok: true });
  });

  it('ran every operation, in order, and exited 0', () => {
    // Assess
    expect(run.lines.map((l) => l.op)).toEqual([...OPERATIONS]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
