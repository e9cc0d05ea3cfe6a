/**
 * The time and cost model behind `ossferry plan` and `npm run bench:model`: pure functions of a source size and
 * parameters (./params.ts), reusing the planner's parts and tasks. `predict` = validate + time + cost +
 * the assumptions it used, as label/value lines for people and JSON.
 */
import { assumptionsOf, type Assumption } from './assumptions.ts';
import { predictCost, type CostPrediction } from './cost.ts';
import { resolveParams, type ModelInput, type ModelParams } from './params.ts';
import { predictTime, type TimePrediction } from './time.ts';

export { resolveParams, MODEL_DEFAULTS, type ModelInput, type ModelParams, type SourceKind } from './params.ts';
export { predictTime, instanceStartDelay, type TimePrediction, type WorkerTime, type Bottleneck } from './time.ts';
export { predictCost, CU, type CostPrediction } from './cost.ts';
export { regionProfile, instanceBandwidthGbps, gbpsToBytes, DEFAULT_INSTANCE_QUOTA, type RegionProfile } from './platform.ts';
export { assumptionsOf, formatRate, type Assumption } from './assumptions.ts';

export interface Prediction {
  params: ModelParams;
  time: TimePrediction;
  cost: CostPrediction;
  assumptions: Assumption[];
}

export function predict(input: ModelInput, sources: Partial<Record<keyof ModelInput, string>> = {}): Prediction {
  const params = resolveParams(input);
  const time = predictTime(params);
  const cost = predictCost(params, time);
  return { params, time, cost, assumptions: assumptionsOf(params, sources) };
}
