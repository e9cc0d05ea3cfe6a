/**
 * Environment variables through which the Pulumi stack (infra/) wires the deployed functions, and which
 * the local FC gateway sets for local instances. One list, so infra and functions agree by construction.
 */
export const FUNCTION_ENV = Object.freeze({
  /** "coordinator" | "worker": one image, the role chosen by env (issue 4). */
  ROLE: 'OSSFERRY_ROLE',
  /** HTTP port of the custom-container runtime (the function's caPort). Default 9000. */
  PORT: 'FC_SERVER_PORT',
  /** FC service and worker function the coordinator invokes. */
  SERVICE_NAME: 'OSSFERRY_SERVICE_NAME',
  WORKER_FUNCTION: 'OSSFERRY_WORKER_FUNCTION',
  /** FC endpoint override (local gateway); unset in the cloud, where it derives from account + region. */
  FC_ENDPOINT: 'OSSFERRY_FC_ENDPOINT',
  /** OSS endpoint override (local OSS, or an internal endpoint); unset → oss-<region>-internal.aliyuncs.com. */
  OSS_ENDPOINT: 'OSSFERRY_OSS_ENDPOINT',
  /** Account id and region (the FC runtime also passes them as x-fc-* headers). */
  ACCOUNT_ID: 'OSSFERRY_ACCOUNT_ID',
  REGION: 'OSSFERRY_REGION',
  /** Where job status objects live: oss://bucket/prefix. */
  STATUS_LOCATION: 'OSSFERRY_STATUS_LOCATION',
  /** Transfer defaults from stack config. */
  PART_SIZE_BYTES: 'OSSFERRY_PART_SIZE_BYTES',
  STREAMS_PER_WORKER: 'OSSFERRY_STREAMS_PER_WORKER',
  MAX_WORKERS: 'OSSFERRY_MAX_WORKERS',
  GZIP_LEVEL: 'OSSFERRY_GZIP_LEVEL',
  /** JSON object of destination object defaults (storage class, encryption, tags, ACL) from stack config `object`. */
  OBJECT_DEFAULTS: 'OSSFERRY_OBJECT_DEFAULTS',
  /** Worker function timeout in seconds: workers stop taking parts before it (issue 4 item 4). */
  WORKER_TIMEOUT_SECONDS: 'OSSFERRY_WORKER_TIMEOUT_SECONDS',
  /** JSON array of archive rules (shared/archive-rules.ts). */
  ARCHIVE_RULES: 'OSSFERRY_ARCHIVE_RULES',
  /** Comma-separated hosts/CIDRs a source may resolve to despite being private/loopback (SSRF allow-list). */
  ALLOWED_SOURCE_HOSTS: 'OSSFERRY_ALLOWED_SOURCE_HOSTS',
  /**
   * Comma-separated endpoints (`host` or `host:port`) that a job may name as an oss:// source endpoint besides
   * OSS's own (oss-<region>[-internal].aliyuncs.com) and OSSFERRY_OSS_ENDPOINT: they receive the function's credentials.
   */
  ALLOWED_OSS_ENDPOINTS: 'OSSFERRY_ALLOWED_OSS_ENDPOINTS',
  /** JSON object host[:port] → SHA256 host-key fingerprint for SFTP sources. */
  SFTP_HOST_KEYS: 'OSSFERRY_SFTP_HOST_KEYS',
  /** SFTP private key (PEM/OpenSSH); in the cloud injected from a Pulumi secret, never in code. */
  SFTP_PRIVATE_KEY: 'OSSFERRY_SFTP_PRIVATE_KEY',
  /** SFTP transport: `openssh` (the `ssh` client, ≥ 8.5), `ssh2` (in-process library) or `auto` (default: OpenSSH when installed). */
  SFTP_TRANSPORT: 'OSSFERRY_SFTP_TRANSPORT',
  /** The OpenSSH client the SFTP source runs (default `ssh` on PATH; the image has /usr/bin/ssh). */
  SSH_PATH: 'OSSFERRY_SSH_PATH',
  /**
   * Absolute directory file:// sources may read (functions/sources/file.ts). Unset, as the stack leaves it,
   * file sources are refused: only the local cloud, tests and benchmarks set it.
   */
  FILE_SOURCE_ROOT: 'OSSFERRY_FILE_SOURCE_ROOT',
  /** Opt-in to the pure-JS CRC-64 fallback (issue 2): loud warnings on every job. */
  ALLOW_SLOW_CRC: 'OSSFERRY_ALLOW_SLOW_CRC',
  /** Path of the native addon when not in the default build location (the image). */
  NATIVE_PATH: 'OSSFERRY_NATIVE_PATH',
  LOG_LEVEL: 'OSSFERRY_LOG_LEVEL',
  /** Seconds a job's lease lives without a heartbeat (functions/status/lease.ts); default 30. */
  LEASE_TTL_SECONDS: 'OSSFERRY_LEASE_TTL_SECONDS',
});
/**
 * Lifecycle hooks both functions configure (FC calls a hook only when the function configures it). The
 * pre-stop timeout leaves room for the runtime's bounded wait on in-flight invocations (10 s,
 * functions/runtime/server.ts preStopGraceMs).
 */
export const FUNCTION_LIFECYCLE = Object.freeze({ preStopTimeoutSeconds: 15 });

export type FunctionEnvName = (typeof FUNCTION_ENV)[keyof typeof FUNCTION_ENV];
