/**
 * Fault injection for tests and soak runs: per-operation error rates (500 InternalError, 503 SlowDown),
 * connection resets mid-body, responses lost after the request executed, added latency and a per-connection
 * bandwidth cap. Decisions come from a seeded
 * PRNG drawn once per request in arrival order, so a run with the same seed and request order repeats exactly.
 * ali-oss never retries 5xx and retries resets only with retryMax, so each fault
 * exercises a different client path.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../shared/errors.ts';

const rate = z.number().min(0).max(1);

export const OperationFaultSchema = z.strictObject({
  /** Probability of 500 InternalError. */
  errorRate: rate.optional(),
  /** Probability of 503 SlowDown. */
  slowDownRate: rate.optional(),
  /** Probability that the connection is destroyed half-way through the request or response body. */
  resetRate: rate.optional(),
  /** Added delay before the response, in ms. */
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  /** Answer with a wrong x-oss-hash-crc64ecma (the stored object is right): a client must not trust what it cannot check. */
  misreportCrc64: z.boolean().optional(),
  /** Answer without the CRC-64 (ListParts: no HashCrc64ecma), as OSS may for parts made by a copy: a client must not assume one. */
  omitCrc64: z.boolean().optional(),
  /**
   * Probability that the request is executed in full (object written, upload initiated, part stored, Complete
   * done) and then the connection is destroyed instead of answering: the client sees a reset for work that
   * happened, as when a response is lost on the way back.
   */
  lostResponseRate: rate.optional(),
});

export const FaultConfigSchema = z.strictObject({
  seed: z.number().int().optional(),
  /** Applies to every operation; `operations` entries override field by field. */
  all: OperationFaultSchema.optional(),
  /** Keys are OSS operation names: PutObject, GetObject, UploadPart, CompleteMultipartUpload, … */
  operations: z.record(z.string(), OperationFaultSchema).optional(),
  /** Per-connection cap in bytes per second, applied to request and response bodies. */
  bandwidthBytesPerSecond: z.number().int().positive().optional(),
});

export type OperationFault = z.infer<typeof OperationFaultSchema>;
export type FaultConfig = z.infer<typeof FaultConfigSchema>;

export function parseFaultConfig(value: unknown): FaultConfig {
  const r = FaultConfigSchema.safeParse(value);
  if (!r.success) {
    throw new InvalidInputError('faults', r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '), 'see local/oss/README.md "Faults"');
  }
  return r.data;
}

/** mulberry32: tiny, fast, good enough for fault dice. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FaultDecision =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'error'; status: 500 | 503; latencyMs: number }
  | { kind: 'reset'; latencyMs: number }
  | { kind: 'loseResponse'; latencyMs: number };

/** What the injected faults did since start (admin API `GET /_ossferry/stats`). */
export interface FaultStats {
  /** Requests executed whose response was dropped (lostResponseRate), in total and per operation. */
  lostResponses: number;
  lostByOperation: Record<string, number>;
}

export class Faults {
  private config: FaultConfig = {};
  private random: () => number = prng(0);
  private readonly counts: FaultStats = { lostResponses: 0, lostByOperation: {} };

  constructor(config?: FaultConfig, seed?: number) {
    this.set(config ?? {}, seed);
  }

  set(config: FaultConfig, seed?: number): void {
    this.config = parseFaultConfig(config);
    this.random = prng(this.config.seed ?? seed ?? 1);
  }

  get(): FaultConfig {
    return this.config;
  }

  get bandwidth(): number | undefined {
    return this.config.bandwidthBytesPerSecond;
  }

  /** Whether `operation`'s answer states a wrong CRC-64 (deterministic, no draw). */
  misreportsCrc64(operation: string): boolean {
    return ({ ...this.config.all, ...this.config.operations?.[operation] }).misreportCrc64 === true;
  }

  /** Whether `operation`'s answer leaves out the CRC-64 (deterministic, no draw). */
  omitsCrc64(operation: string): boolean {
    return ({ ...this.config.all, ...this.config.operations?.[operation] }).omitCrc64 === true;
  }

  /**
   * Three draws per request (error, slow-down, reset) whatever the outcome, so sequences stay aligned; a fourth
   * (lost response) only where lostResponseRate is set, so the sequences of configs without it are unchanged.
   */
  decide(operation: string): FaultDecision {
    const f: OperationFault = { ...this.config.all, ...this.config.operations?.[operation] };
    const [e, s, r] = [this.random(), this.random(), this.random()];
    const l = f.lostResponseRate !== undefined ? this.random() : 1;
    const latencyMs = f.latencyMs ?? 0;
    if (e < (f.errorRate ?? 0)) return { kind: 'error', status: 500, latencyMs };
    if (s < (f.slowDownRate ?? 0)) return { kind: 'error', status: 503, latencyMs };
    if (r < (f.resetRate ?? 0)) return { kind: 'reset', latencyMs };
    if (l < (f.lostResponseRate ?? 0)) return { kind: 'loseResponse', latencyMs };
    return { kind: 'none', latencyMs };
  }

  /** Counts a response dropped after its request executed. */
  recordLostResponse(operation: string): void {
    this.counts.lostResponses++;
    this.counts.lostByOperation[operation] = (this.counts.lostByOperation[operation] ?? 0) + 1;
  }

  stats(): FaultStats {
    return { lostResponses: this.counts.lostResponses, lostByOperation: { ...this.counts.lostByOperation } };
  }
}

/** The per-connection cap (`bandwidthBytesPerSecond`) is the local servers' shared token bucket. */
export { Throttle, throttled } from '../throttle.ts';
