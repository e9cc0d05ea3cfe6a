/**
 * The model's parameters: every number it uses, with its default, its valid range and why. Parameters out
 * of range are refused with an InvalidInputError naming the parameter and the fix; nothing is clamped.
 */
import { InvalidInputError } from '../errors.ts';
import { JOB_DEFAULTS } from '../job.ts';
import { FC } from '../limits.ts';
import { DEFAULT_INSTANCE_QUOTA, instanceBandwidthGbps, regionProfile } from './platform.ts';

export type SourceKind = 'http' | 'oss' | 'sftp';

/** What a caller may set; everything else takes its default. */
export interface ModelInput {
  /** Source size in bytes. */
  size: number;
  sourceKind: SourceKind;
  /** Region of the deployment (FC and the destination bucket). Default cn-hangzhou. */
  region?: string;
  /** oss:// sources: the source bucket's region (default: the deployment's, i.e. no egress). */
  sourceRegion?: string;
  partSize?: number | 'auto';
  /** The job's workers: a number, or 'auto' (the engine's default: grows with the size, shared/plan.ts resolveWorkers). */
  workers?: number | 'auto';
  streamsPerWorker?: number;
  instanceQuota?: number;
  /** Override the region's FC burst / growth and OSS account bandwidth. */
  burstInstances?: number;
  growthPerMinute?: number;
  accountGbps?: number;
  workerVcpu?: number;
  workerMemoryGb?: number;
  /** Override the instance bandwidth FC's table gives for workerVcpu. */
  instanceGbps?: number;
  coordinatorVcpu?: number;
  coordinatorMemoryGb?: number;
  /** Throughput of one connection to the source, bytes/s (measured by probing, or given). */
  connectionBytesPerSecond?: number;
  /** Time to first byte of one source request plus its UploadPart round trip, seconds. */
  requestLatencySeconds?: number;
  /** Submit → first worker moving bytes: coordinator start, stat, initiate, worker invocation and cold start. */
  startupSeconds?: number;
  /** A new connection's rate rises linearly from 0 to connectionBytesPerSecond over this many seconds (once per connection). */
  connectionRampSeconds?: number;
  /** Last byte → report: Complete and the CRC-64 check. */
  finishSeconds?: number;
  workerCpuSecondsPerGiB?: number;
  /** Prices. */
  cuPriceUsd?: number;
  cnyPerUsd?: number;
  httpEgressUsdPerGB?: number;
  sftpEgressUsdPerGB?: number;
  crossRegionEgressCnyPerGB?: number;
  ossRequestCnyPer10k?: number;
}

export type ModelParams = Required<Omit<ModelInput, 'sourceRegion'>> & { sourceRegion: string };

/** Defaults that do not depend on the region or the worker size. */
export const MODEL_DEFAULTS = Object.freeze({
  region: 'cn-hangzhou',
  partSize: 'auto' as const,
  workers: JOB_DEFAULTS.workers,
  streamsPerWorker: JOB_DEFAULTS.streamsPerWorker,
  instanceQuota: DEFAULT_INSTANCE_QUOTA,
  /** The stack's default worker: 2 vCPU, 4 GB. */
  workerVcpu: 2,
  workerMemoryGb: 4,
  /** The stack's default coordinator: 0.25 vCPU, 512 MB. */
  coordinatorVcpu: 0.25,
  coordinatorMemoryGb: 0.5,
  /** One connection of the published FC fan-out: one instance, one stream, 200 MB in 15 s and 2 GB in 155 s. */
  connectionBytesPerSecond: 13e6,
  /** A ranged GET's first byte plus an UploadPart round trip inside one region. */
  requestLatencySeconds: 0.03,
  /**
   * Start-up and connection ramp, fitted together to the published 100-instance runs (calibration.ts
   * fitStartupAndRamp; a unit test keeps these two numbers equal to the fit). No constant start-up alone fits
   * both 200 MB in 1 s and 14.68 GB in 14 s: the per-instance rate grows with the run's length, as a ramp does.
   */
  startupSeconds: 0,
  connectionRampSeconds: 4.05,
  finishSeconds: 0.1,
  /** Worker CPU per GiB copied, from bench:copy (about 2.5 ns of worker CPU per byte on 2 cores). */
  workerCpuSecondsPerGiB: 2.7,
  /** FC compute unit price (international site, first tier). */
  cuPriceUsd: 0.00002,
  cnyPerUsd: 7.2,
  /** The source's provider bills its Internet egress; a typical public-cloud first tier. */
  httpEgressUsdPerGB: 0.09,
  /** SFTP from a VM in the same VPC: no traffic charge. */
  sftpEgressUsdPerGB: 0,
  /** OSS outbound over the public endpoint (another region), daytime. */
  crossRegionEgressCnyPerGB: 0.5,
  /** PUT- and GET-type requests, Standard storage. */
  ossRequestCnyPer10k: 0.01,
});

interface Range {
  min: number;
  max: number;
  integer?: boolean;
  fix: string;
}

const RANGES: Record<string, Range> = {
  workers: { min: 1, max: JOB_DEFAULTS.maxWorkers, integer: true, fix: `use auto or 1..${JOB_DEFAULTS.maxWorkers} workers (the job's limit)` },
  streamsPerWorker: { min: 1, max: JOB_DEFAULTS.maxStreams, integer: true, fix: `use 1..${JOB_DEFAULTS.maxStreams} streams per worker` },
  instanceQuota: { min: 2, max: 100_000, integer: true, fix: 'pass the account\'s on-demand instance quota for the region (default 100; the coordinator takes one)' },
  burstInstances: { min: 1, max: 100_000, integer: true, fix: 'pass the instances FC starts at once (100 or 300)' },
  growthPerMinute: { min: 1, max: 100_000, integer: true, fix: 'pass the new instances FC adds per minute (100 or 300)' },
  accountGbps: { min: 0.1, max: 1000, fix: 'pass the OSS upload bandwidth of the account in Gbit/s (2, 10 or 20 by default)' },
  workerVcpu: { min: FC.MIN_VCPU, max: FC.MAX_VCPU, fix: `use ${FC.MIN_VCPU}..${FC.MAX_VCPU} vCPU (FC's range)` },
  workerMemoryGb: { min: FC.MIN_MEMORY_MB / 1024, max: FC.MAX_MEMORY_MB / 1024, fix: 'use 0.125..32 GB (FC\'s range)' },
  instanceGbps: { min: 0.01, max: 100, fix: 'pass the instance bandwidth in Gbit/s (FC gives 1..5)' },
  coordinatorVcpu: { min: FC.MIN_VCPU, max: FC.MAX_VCPU, fix: `use ${FC.MIN_VCPU}..${FC.MAX_VCPU} vCPU (FC's range)` },
  coordinatorMemoryGb: { min: FC.MIN_MEMORY_MB / 1024, max: FC.MAX_MEMORY_MB / 1024, fix: 'use 0.125..32 GB (FC\'s range)' },
  connectionBytesPerSecond: { min: 1000, max: 12.5e9, fix: 'pass a per-connection throughput between 1 kB/s and 100 Gbit/s, or measure it with --probe' },
  requestLatencySeconds: { min: 0, max: 60, fix: 'pass a latency in seconds, e.g. 0.03' },
  startupSeconds: { min: 0, max: 600, fix: 'pass a start-up time in seconds, e.g. 0.5' },
  connectionRampSeconds: { min: 0, max: 600, fix: 'pass the seconds a new connection takes to reach its full rate, e.g. 4 (0: full rate from the first byte)' },
  finishSeconds: { min: 0, max: 600, fix: 'pass a finishing time in seconds, e.g. 0.1' },
  workerCpuSecondsPerGiB: { min: 0.01, max: 1000, fix: 'pass CPU seconds per GiB from bench:copy, e.g. 2.7' },
  cuPriceUsd: { min: 0, max: 1, fix: 'pass the FC CU price in USD, e.g. 0.00002' },
  cnyPerUsd: { min: 0.01, max: 1000, fix: 'pass the CNY per USD rate, e.g. 7.2' },
  httpEgressUsdPerGB: { min: 0, max: 100, fix: 'pass the source provider\'s egress price in USD per GB, e.g. 0.09' },
  sftpEgressUsdPerGB: { min: 0, max: 100, fix: 'pass the SFTP host\'s egress price in USD per GB (0 inside one VPC)' },
  crossRegionEgressCnyPerGB: { min: 0, max: 100, fix: 'pass the OSS public egress price in CNY per GB, e.g. 0.5' },
  ossRequestCnyPer10k: { min: 0, max: 100, fix: 'pass the OSS request price in CNY per 10,000, e.g. 0.01' },
};

function check(name: string, value: number): number {
  const r = RANGES[name]!;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < r.min || value > r.max || (r.integer && !Number.isInteger(value))) {
    throw new InvalidInputError(name, `must be ${r.integer ? 'a whole number ' : ''}between ${r.min} and ${r.max}, got ${value}`, r.fix);
  }
  return value;
}

const checkWorkers = (w: number | 'auto'): number | 'auto' => (w === 'auto' ? w : check('workers', w));

/** Fills defaults (region facts included) and refuses any parameter out of range, naming it. */
export function resolveParams(input: ModelInput): ModelParams {
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new InvalidInputError('size', `must be a whole number of bytes ≥ 0, got ${input.size}`, 'pass the source size from stat()');
  }
  if (input.sourceKind !== 'http' && input.sourceKind !== 'oss' && input.sourceKind !== 'sftp') {
    throw new InvalidInputError('sourceKind', `must be http, oss or sftp, got ${String(input.sourceKind)}`, 'pass the source URL\'s scheme');
  }
  const region = regionProfile(input.region ?? MODEL_DEFAULTS.region);
  const sourceRegion = input.sourceRegion !== undefined ? regionProfile(input.sourceRegion).region : region.region;
  const workerVcpu = check('workerVcpu', input.workerVcpu ?? MODEL_DEFAULTS.workerVcpu);
  const p: ModelParams = {
    size: input.size,
    sourceKind: input.sourceKind,
    region: region.region,
    sourceRegion,
    partSize: input.partSize ?? MODEL_DEFAULTS.partSize,
    workers: checkWorkers(input.workers ?? MODEL_DEFAULTS.workers),
    streamsPerWorker: check('streamsPerWorker', input.streamsPerWorker ?? MODEL_DEFAULTS.streamsPerWorker),
    instanceQuota: check('instanceQuota', input.instanceQuota ?? MODEL_DEFAULTS.instanceQuota),
    burstInstances: check('burstInstances', input.burstInstances ?? region.burstInstances),
    growthPerMinute: check('growthPerMinute', input.growthPerMinute ?? region.growthPerMinute),
    accountGbps: check('accountGbps', input.accountGbps ?? region.accountUploadGbps),
    workerVcpu,
    workerMemoryGb: check('workerMemoryGb', input.workerMemoryGb ?? MODEL_DEFAULTS.workerMemoryGb),
    instanceGbps: check('instanceGbps', input.instanceGbps ?? instanceBandwidthGbps(workerVcpu)),
    coordinatorVcpu: check('coordinatorVcpu', input.coordinatorVcpu ?? MODEL_DEFAULTS.coordinatorVcpu),
    coordinatorMemoryGb: check('coordinatorMemoryGb', input.coordinatorMemoryGb ?? MODEL_DEFAULTS.coordinatorMemoryGb),
    connectionBytesPerSecond: check('connectionBytesPerSecond', input.connectionBytesPerSecond ?? MODEL_DEFAULTS.connectionBytesPerSecond),
    requestLatencySeconds: check('requestLatencySeconds', input.requestLatencySeconds ?? MODEL_DEFAULTS.requestLatencySeconds),
    startupSeconds: check('startupSeconds', input.startupSeconds ?? MODEL_DEFAULTS.startupSeconds),
    connectionRampSeconds: check('connectionRampSeconds', input.connectionRampSeconds ?? MODEL_DEFAULTS.connectionRampSeconds),
    finishSeconds: check('finishSeconds', input.finishSeconds ?? MODEL_DEFAULTS.finishSeconds),
    workerCpuSecondsPerGiB: check('workerCpuSecondsPerGiB', input.workerCpuSecondsPerGiB ?? MODEL_DEFAULTS.workerCpuSecondsPerGiB),
    cuPriceUsd: check('cuPriceUsd', input.cuPriceUsd ?? MODEL_DEFAULTS.cuPriceUsd),
    cnyPerUsd: check('cnyPerUsd', input.cnyPerUsd ?? MODEL_DEFAULTS.cnyPerUsd),
    httpEgressUsdPerGB: check('httpEgressUsdPerGB', input.httpEgressUsdPerGB ?? MODEL_DEFAULTS.httpEgressUsdPerGB),
    sftpEgressUsdPerGB: check('sftpEgressUsdPerGB', input.sftpEgressUsdPerGB ?? MODEL_DEFAULTS.sftpEgressUsdPerGB),
    crossRegionEgressCnyPerGB: check('crossRegionEgressCnyPerGB', input.crossRegionEgressCnyPerGB ?? MODEL_DEFAULTS.crossRegionEgressCnyPerGB),
    ossRequestCnyPer10k: check('ossRequestCnyPer10k', input.ossRequestCnyPer10k ?? MODEL_DEFAULTS.ossRequestCnyPer10k),
  };
  return p;
}
