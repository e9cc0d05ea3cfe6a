/**
 * The cost model: what one copy job is billed, from the time model's per-worker durations.
 *
 * - FC compute, in compute units (CU): 1 CU per vCPU-second, 0.15 CU per GB-second, 75 CU per 10,000
 *   invocations; CU price in USD. Workers are billed from invocation to return (their parts, each at most at
 *   its share of the account bandwidth); the coordinator is billed for the whole job because it waits.
 * - OSS requests (PUT- and GET-type alike per 10,000): InitiateMultipartUpload, one UploadPart per part,
 *   CompleteMultipartUpload, the status object (written at start, per finished task and at the end), a HEAD
 *   of the destination; an oss:// source adds a HEAD and one ranged GET per part.
 * - Egress by source kind: http — the source's provider bills its Internet egress; oss — free inside the
 *   region (internal endpoint), OSS public outbound from another region; sftp — the host's egress (0 in one VPC).
 *   Writes into OSS (inbound) are free. Prices per GB are per 2^30 bytes, as OSS bills; CNY → USD at cnyPerUsd.
 */
import { UNITS } from '../limits.ts';
import type { ModelParams } from './params.ts';
import { gbpsToBytes } from './platform.ts';
import type { TimePrediction } from './time.ts';

export interface CostPrediction {
  workerSeconds: number;
  coordinatorSeconds: number;
  vcpuSeconds: number;
  gbSeconds: number;
  invocations: number;
  computeUnits: number;
  computeUsd: number;
  ossPutRequests: number;
  ossGetRequests: number;
  requestsUsd: number;
  egressGB: number;
  egressUsd: number;
  egressBilledBy: string;
  totalUsd: number;
}

export const CU = Object.freeze({ perVcpuSecond: 1, perGbSecond: 0.15, perInvocation: 75 / 10_000 });

export function predictCost(p: ModelParams, t: TimePrediction): CostPrediction {
  // A worker is billed for its own transfer, or for its fair share of the account bandwidth when all workers
  // together would exceed it (each then moves at most account ÷ workers). Scaling delays are not billed.
  const fairShare = gbpsToBytes(p.accountGbps) / t.workers;
  const workerSeconds = t.perWorker.reduce((a, w) => a + w.latencySeconds + Math.max(w.transferSeconds, w.bytes / fairShare), 0);
  const coordinatorSeconds = t.seconds;
  const vcpuSeconds = workerSeconds * p.workerVcpu + coordinatorSeconds * p.coordinatorVcpu;
  const gbSeconds = workerSeconds * p.workerMemoryGb + coordinatorSeconds * p.coordinatorMemoryGb;
  const invocations = 1 + t.workers;
  const computeUnits = vcpuSeconds * CU.perVcpuSecond + gbSeconds * CU.perGbSecond + invocations * CU.perInvocation;
  const computeUsd = computeUnits * p.cuPriceUsd;

  const parts = t.plan.parts.length;
  const ossPutRequests = 1 + parts + 1 + (2 + t.workers);
  const ossGetRequests = 1 + (p.sourceKind === 'oss' ? 1 + parts : 0);
  const requestsUsd = ((ossPutRequests + ossGetRequests) / 10_000) * (p.ossRequestCnyPer10k / p.cnyPerUsd);

  const egressGB = p.size / UNITS.GB;
  let egressUsd: number;
  let egressBilledBy: string;
  if (p.sourceKind === 'http') {
    egressUsd = egressGB * p.httpEgressUsdPerGB;
    egressBilledBy = `the source's provider (Internet egress, ${p.httpEgressUsdPerGB} USD/GB)`;
  } else if (p.sourceKind === 'sftp') {
    egressUsd = egressGB * p.sftpEgressUsdPerGB;
    egressBilledBy = `the SFTP host's network (${p.sftpEgressUsdPerGB} USD/GB${p.sftpEgressUsdPerGB === 0 ? ': same VPC' : ''})`;
  } else if (p.sourceRegion === p.region) {
    egressUsd = 0;
    egressBilledBy = `nobody: OSS source in ${p.region}, internal endpoint`;
  } else {
    egressUsd = (egressGB * p.crossRegionEgressCnyPerGB) / p.cnyPerUsd;
    egressBilledBy = `OSS public outbound from ${p.sourceRegion} (${p.crossRegionEgressCnyPerGB} CNY/GB)`;
  }
  return {
    workerSeconds,
    coordinatorSeconds,
    vcpuSeconds,
    gbSeconds,
    invocations,
    computeUnits,
    computeUsd,
    ossPutRequests,
    ossGetRequests,
    requestsUsd,
    egressGB,
    egressUsd,
    egressBilledBy,
    totalUsd: computeUsd + requestsUsd + egressUsd,
  };
}
