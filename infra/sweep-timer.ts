/**
 * The orphaned-upload sweep on a schedule: an FC 2.0 timer trigger on the coordinator whose payload is a
 * shared/sweep.ts SweepEvent naming the stack's destinations (the buckets and prefixes its role may write).
 * FC wraps the payload string in `{"triggerTime","triggerName","payload"}`; the coordinator unwraps it
 * (functions/coordinator/event.ts). Timer triggers need no role or source ARN.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { SweepEvent } from '../shared/sweep.ts';
import type { OssferryStackConfig } from './config-schema.ts';

/** Every destination of the stack, deduplicated: copy destinations and archive rule outputs. */
export function sweepDestinations(c: Pick<OssferryStackConfig, 'destinations' | 'archiveRules'>): SweepEvent['destinations'] {
  const all = [...c.destinations.map((d) => ({ bucket: d.bucket, prefix: d.prefix })), ...c.archiveRules.map((r) => ({ bucket: r.destinationBucket, prefix: r.destinationPrefix }))];
  const seen = new Set<string>();
  return all.filter((d) => {
    const k = `${d.bucket}/${d.prefix}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The timer trigger's `config` JSON (FC 2.0 TimeTriggerConfig: payload string, cronExpression, enable). */
export function sweepTimerConfig(c: Pick<OssferryStackConfig, 'destinations' | 'archiveRules' | 'sweep'>): string {
  const event: SweepEvent = { kind: 'sweep', olderThanSeconds: c.sweep.olderThanSeconds, destinations: sweepDestinations(c) };
  return JSON.stringify({ payload: JSON.stringify(event), cronExpression: c.sweep.schedule, enable: c.sweep.enabled });
}

export interface SweepTimerArgs {
  serviceName: pulumi.Input<string>;
  coordinatorName: pulumi.Input<string>;
}

export class SweepTimer extends pulumi.ComponentResource {
  readonly triggerName: pulumi.Output<string>;

  constructor(name: string, config: OssferryStackConfig, args: SweepTimerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:SweepTimer', name, {}, opts);
    const trigger = new alicloud.fc.Trigger(
      `${name}-trigger`,
      {
        service: args.serviceName,
        function: args.coordinatorName,
        name: `${config.namePrefix}-sweep`,
        type: 'timer',
        config: sweepTimerConfig(config),
      },
      { parent: this },
    );
    this.triggerName = trigger.name;
    this.registerOutputs({ triggerName: this.triggerName });
  }
}
