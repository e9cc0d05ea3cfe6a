/**
 * Platform limits ossferry plans against (OSS and FC 2.0 product limits as documented).
 * Pure constants: planner, config validation, local servers and tests all read them from here.
 */
const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

export const OSS = Object.freeze({
  /** OSS: partNumber 1..10000. */
  MIN_PART_NUMBER: 1,
  MAX_PART_NUMBER: 10_000,
  /** OSS: non-last parts ≥ 100 KB (checked at Complete → 400 EntityTooSmall). */
  /** Longest object key, in UTF-8 bytes. */
  MAX_KEY_BYTES: 1023,
  MIN_PART_SIZE: 100 * KB,
  /** OSS: parts ≤ 5 GB. */
  MAX_PART_SIZE: 5 * GB,
  /** OSS: PutObject/AppendObject ≤ 5 GB. */
  MAX_PUT_SIZE: 5 * GB,
  /** OSS: a multipart object ≤ 48.8 TB. */
  MAX_OBJECT_SIZE: 48.8 * 1024 * GB,
  /** OSS: CopyObject for objects ≤ 1 GB (larger ones need UploadPartCopy). */
  MAX_COPY_OBJECT_SIZE: 1 * GB,
});

export const FC = Object.freeze({
  /** FC: sync invoke payload 32 MB, async 128 KB. */
  MAX_SYNC_PAYLOAD: 32 * MB,
  MAX_ASYNC_PAYLOAD: 128 * KB,
  /** FC: execution ≤ 86400 s. */
  MAX_TIMEOUT_SECONDS: 86_400,
  /** FC: memory 128..32768 MB, multiple of 64; vCPU 0.05..16 step 0.05; vCPU:GB 1:1..1:4. */
  MIN_MEMORY_MB: 128,
  MAX_MEMORY_MB: 32_768,
  MEMORY_STEP_MB: 64,
  MIN_VCPU: 0.05,
  MAX_VCPU: 16,
  /** FC: on-demand instances per region and account by default (raised by a quota request). */
  DEFAULT_INSTANCE_QUOTA: 100,
  /** FC: custom-container port (caPort) default 9000. */
  DEFAULT_CA_PORT: 9000,
  /** FC: instance concurrency 1..100 (ROS resource docs). */
  MAX_INSTANCE_CONCURRENCY: 100,
});

export const UNITS = Object.freeze({ KB, MB, GB });
