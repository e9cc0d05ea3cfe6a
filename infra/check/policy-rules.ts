/**
 * Deploy rules the provider schema cannot express but the platform enforces (or that make failures
 * silent), checked on each resource's inputs next to the schema check. Each rule names why.
 */
import type { Violation } from './schema-check.ts';

type Inputs = Record<string, any>;

interface PolicyRule {
  type: string;
  /** Violations as [input path, message]. */
  check(inputs: Inputs): Array<[string, string]>;
}

export const POLICY_RULES: readonly PolicyRule[] = Object.freeze([
  {
    // alicloud_ram_policy: a custom policy keeps at most 5 versions; the 6th document change fails without rotation.
    type: 'alicloud:ram/policy:Policy',
    check: (i) =>
      i.rotateStrategy === 'DeleteOldestNonDefaultVersionWhenLimitExceeded'
        ? []
        : [['rotateStrategy', 'must be DeleteOldestNonDefaultVersionWhenLimitExceeded: RAM keeps 5 policy versions and the 6th change fails']],
  },
  {
    // FC calls GET /pre-stop only when instanceLifecycleConfig configures it; the runtime's pre-stop handling
    // (abort in-flight parts cleanly) never runs otherwise.
    type: 'alicloud:fc/v2Function:V2Function',
    check: (i) =>
      i.runtime === 'custom-container' && !(i.instanceLifecycleConfig?.preStop?.handler && i.instanceLifecycleConfig?.preStop?.timeout > 0)
        ? [['instanceLifecycleConfig.preStop', 'must be configured with a handler and a timeout: FC calls /pre-stop only when it is']]
        : [],
  },
  {
    // Without an onFailure destination an async event whose retries ran out is dropped.
    type: 'alicloud:fc/functionAsyncInvokeConfig:FunctionAsyncInvokeConfig',
    check: (i) =>
      i.destinationConfig?.onFailure?.destination
        ? []
        : [['destinationConfig.onFailure', 'must name a destination: without one an event whose retries ran out vanishes']],
  },
  {
    // SLS tokenizes text keys (and the text keys inside JSON fields) with the field's token.
    type: 'alicloud:log/storeIndex:StoreIndex',
    check: (i) =>
      ((i.fieldSearches ?? []) as Inputs[]).flatMap((f, n): Array<[string, string]> =>
        (f.type === 'json' || f.type === 'text' || f.type === undefined) && !f.token
          ? [[`fieldSearches[${n}].token`, `field "${f.name}" (${f.type ?? 'text'}) needs a token: SLS tokenizes text and JSON keys with it`]]
          : [],
      ),
  },
]);

export function checkPolicyRules(type: string, resource: string, inputs: Inputs): Violation[] {
  return POLICY_RULES.filter((r) => r.type === type).flatMap((r) =>
    r.check(inputs).map(([path, message]) => ({ type, resource, path, rule: 'policy' as const, message })),
  );
}
