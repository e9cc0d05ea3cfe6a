/**
 * The assumptions a prediction used, each with its value and its basis, so a reader can tell a measured
 * number from a default. `origin` says where a value came from when the caller set it (a flag, a probe).
 */
import { MODEL_DEFAULTS, type ModelInput, type ModelParams } from './params.ts';
import { regionProfile } from './platform.ts';

export interface Assumption {
  name: keyof ModelParams;
  value: string;
  basis: string;
}

/** 13000000 → "13.0 MB/s". */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1e9 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

export function assumptionsOf(p: ModelParams, origin: Partial<Record<keyof ModelInput, string>> = {}): Assumption[] {
  const region = regionProfile(p.region);
  const o = (name: keyof ModelInput, fallback: string) => origin[name] ?? fallback;
  const list: Assumption[] = [
    { name: 'region', value: p.region, basis: o('region', 'default deployment region') },
    { name: 'instanceQuota', value: `${p.instanceQuota} instances`, basis: o('instanceQuota', 'FC default on-demand quota per region; the coordinator takes one') },
    {
      name: 'burstInstances',
      value: `${p.burstInstances} at once, then ${p.growthPerMinute}/min`,
      basis: o('burstInstances', `FC scaling in ${region.region} (300 and 300/min in Hangzhou, Shanghai, Beijing, Zhangjiakou, Shenzhen; 100 elsewhere)`),
    },
    { name: 'accountGbps', value: `${p.accountGbps} Gbit/s`, basis: o('accountGbps', `OSS upload bandwidth per account in ${region.region}`) },
    { name: 'workerVcpu', value: `${p.workerVcpu} vCPU, ${p.workerMemoryGb} GB`, basis: o('workerVcpu', 'the stack\'s default worker') },
    { name: 'instanceGbps', value: `${p.instanceGbps} Gbit/s`, basis: o('instanceGbps', 'FC instance bandwidth for this vCPU (2/4/8/16 vCPU → 1/1.5/2.5/5 Gbit/s)') },
    {
      name: 'connectionBytesPerSecond',
      value: formatRate(p.connectionBytesPerSecond),
      basis: o('connectionBytesPerSecond', `per source connection; default ${formatRate(MODEL_DEFAULTS.connectionBytesPerSecond)}, one FC instance's rate in the published fan-out (measure with --probe)`),
    },
    { name: 'requestLatencySeconds', value: `${Number(p.requestLatencySeconds.toPrecision(3))} s`, basis: o('requestLatencySeconds', 'first byte of a ranged read plus an UploadPart round trip, per part and stream') },
    { name: 'startupSeconds', value: `${p.startupSeconds} s`, basis: o('startupSeconds', 'cold starts and fan-out before the first byte: fitted to the published runs (with connectionRampSeconds)') },
    {
      name: 'connectionRampSeconds',
      value: `${p.connectionRampSeconds} s`,
      basis: o('connectionRampSeconds', 'a new connection\'s rate rises linearly to full over this time, once per connection (TCP slow start, cold instance): fitted to the published runs'),
    },
    { name: 'finishSeconds', value: `${p.finishSeconds} s`, basis: o('finishSeconds', 'Complete and the CRC-64 check') },
    { name: 'workerCpuSecondsPerGiB', value: `${p.workerCpuSecondsPerGiB} CPU-s/GiB`, basis: o('workerCpuSecondsPerGiB', 'worker CPU per GiB copied, from bench:copy') },
    { name: 'cuPriceUsd', value: `${p.cuPriceUsd} USD/CU`, basis: o('cuPriceUsd', 'FC: 1 CU per vCPU-s, 0.15 per GB-s, 75 per 10,000 invocations; first price tier') },
    { name: 'ossRequestCnyPer10k', value: `${p.ossRequestCnyPer10k} CNY per 10,000`, basis: o('ossRequestCnyPer10k', 'OSS PUT/GET requests, Standard storage') },
  ];
  if (p.sourceKind === 'http') list.push({ name: 'httpEgressUsdPerGB', value: `${p.httpEgressUsdPerGB} USD/GB`, basis: o('httpEgressUsdPerGB', 'the source provider\'s Internet egress (typical first tier)') });
  if (p.sourceKind === 'sftp') list.push({ name: 'sftpEgressUsdPerGB', value: `${p.sftpEgressUsdPerGB} USD/GB`, basis: o('sftpEgressUsdPerGB', 'SFTP host in the same VPC: no traffic charge') });
  if (p.sourceKind === 'oss') {
    list.push({ name: 'crossRegionEgressCnyPerGB', value: p.sourceRegion === p.region ? '0 (same region)' : `${p.crossRegionEgressCnyPerGB} CNY/GB`, basis: o('crossRegionEgressCnyPerGB', 'OSS internal traffic is free; public outbound from another region is billed') });
  }
  list.push({ name: 'cnyPerUsd', value: `${p.cnyPerUsd}`, basis: o('cnyPerUsd', 'CNY per USD for CNY prices') });
  return list;
}
