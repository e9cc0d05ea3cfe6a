/**
 * Platform facts the time model needs, per region and per instance size. Pure data and lookups.
 *
 * - FC scaling: a burst of up to 300 instances at once in Hangzhou, Shanghai, Beijing, Zhangjiakou and
 *   Shenzhen (100 elsewhere), then up to 300 (or 100) new instances per minute; beyond that FC answers 429.
 * - FC default quota: 100 on-demand instances per region and account (raised by quota request).
 * - FC instance bandwidth grows with vCPU: 2 / 4 / 8 / 16 vCPU → 1 / 1.5 / 2.5 / 5 Gbit/s (FC's spec table);
 *   smaller instances get the 1 Gbit/s floor of the published 1–5 Gbit/s range.
 * - OSS total upload bandwidth per account and region: 20 Gbit/s in Hangzhou, Shanghai, Shenzhen, Beijing,
 *   Zhangjiakou and Singapore; 2 Gbit/s in small regions (Seoul, Bangkok, Wuhan local region); 10 Gbit/s in the
 *   other regions. Functions write over the internal endpoint, so the public-endpoint caps do not apply.
 */
import { InvalidInputError } from '../errors.ts';
import { FC } from '../limits.ts';

export interface RegionProfile {
  region: string;
  /** Instances FC starts at once. */
  burstInstances: number;
  /** New instances per minute after the burst. */
  growthPerMinute: number;
  /** OSS upload bandwidth of the account in this region, Gbit/s. */
  accountUploadGbps: number;
}

const BIG_SCALING = new Set(['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'cn-zhangjiakou', 'cn-shenzhen']);
const OSS_20_GBPS = new Set(['cn-hangzhou', 'cn-shanghai', 'cn-shenzhen', 'cn-beijing', 'cn-zhangjiakou', 'ap-southeast-1']);
const OSS_2_GBPS = new Set(['ap-northeast-2', 'ap-southeast-7', 'cn-wuhan-lr']);

/** The default quota of on-demand instances per region and account. */
export const DEFAULT_INSTANCE_QUOTA = FC.DEFAULT_INSTANCE_QUOTA;

const REGION_RE = /^[a-z]{2,}(-[a-z0-9]+){1,3}$/;

/** Scaling and bandwidth of a region id such as `cn-hangzhou` (an `oss-` prefix is accepted and dropped). */
export function regionProfile(regionId: string): RegionProfile {
  const region = regionId.replace(/^oss-/, '');
  if (!REGION_RE.test(region)) {
    throw new InvalidInputError('region', `${JSON.stringify(regionId)} is not a region id`, 'pass a region such as cn-hangzhou or ap-southeast-1');
  }
  const big = BIG_SCALING.has(region);
  return {
    region,
    burstInstances: big ? 300 : 100,
    growthPerMinute: big ? 300 : 100,
    accountUploadGbps: OSS_20_GBPS.has(region) ? 20 : OSS_2_GBPS.has(region) ? 2 : 10,
  };
}

/** FC's spec table: vCPU tier → Gbit/s per instance. */
const BANDWIDTH_TIERS: ReadonlyArray<readonly [vcpu: number, gbps: number]> = [
  [16, 5],
  [8, 2.5],
  [4, 1.5],
  [0, 1],
];

/** Bandwidth of one FC instance with `vcpu` vCPUs, Gbit/s (the tier at or below it; never less than 1). */
export function instanceBandwidthGbps(vcpu: number): number {
  for (const [v, g] of BANDWIDTH_TIERS) if (vcpu >= v) return g;
  return 1;
}

/** Gbit/s → bytes per second. */
export const gbpsToBytes = (gbps: number): number => (gbps * 1e9) / 8;
