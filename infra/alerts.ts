/**
 * Failures are never silent: an MNS queue receives every coordinator async event (an OSS trigger delivery)
 * whose retries ran out — FC drops such events when the async config has no onFailure destination — and
 * CloudMonitor alarms fire on function errors and throttles of both functions.
 *
 * Alarms use alicloud_cms_alarm (project acs_fc, dimensions userId/region/serviceName/functionName), the
 * provider resource for FC metrics; contact_groups is Required there, so without `alarms.contactGroups` no
 * alarm is created and config validation warns.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';
import { mnsQueueArn } from './policy.ts';

/** MNS keeps a message at most 7 days: the longest an operator has to look at a failed event. */
export const FAILURE_RETENTION_SECONDS = 604_800;

export class AsyncFailureQueue extends pulumi.ComponentResource {
  /** The onFailure destination ARN for the coordinator's async config. */
  readonly destination: string;
  readonly queue: alicloud.message.ServiceQueue;

  constructor(name: string, config: OssferryStackConfig, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:AsyncFailureQueue', name, {}, opts);
    this.queue = new alicloud.message.ServiceQueue(
      `${name}-queue`,
      {
        queueName: config.names.asyncFailureQueue,
        messageRetentionPeriod: FAILURE_RETENTION_SECONDS,
        // MNS's largest message (64 KB): the failed event is an OSS trigger body of a few records, far below it.
        maximumMessageSize: 65_536,
        tags: { 'managed-by': 'ossferry', stack: config.stack },
      },
      { parent: this },
    );
    this.destination = mnsQueueArn(config, config.names.asyncFailureQueue);
    this.registerOutputs({ destination: this.destination, queueName: this.queue.queueName });
  }
}

/** One alarm per function and metric: errors the function raised, and both kinds of throttling. */
export const ALARM_METRICS = Object.freeze([
  { metric: 'FunctionFunctionErrors', label: 'errors' },
  { metric: 'FunctionConcurrencyThrottles', label: 'concurrency-throttles' },
  { metric: 'FunctionResourceThrottles', label: 'resource-throttles' },
] as const);

export interface FunctionAlarmsArgs {
  serviceName: pulumi.Input<string>;
  functionNames: Record<'coordinator' | 'worker', pulumi.Input<string>>;
}

export class FunctionAlarms extends pulumi.ComponentResource {
  readonly alarmNames: pulumi.Output<string[]>;

  constructor(name: string, config: OssferryStackConfig, args: FunctionAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:FunctionAlarms', name, {}, opts);
    const alarms: alicloud.cms.Alarm[] = [];
    if (config.alarms.contactGroups.length > 0) {
      for (const role of ['coordinator', 'worker'] as const) {
        for (const m of ALARM_METRICS) {
          alarms.push(
            new alicloud.cms.Alarm(
              `${name}-${role}-${m.label}`,
              {
                name: `${config.namePrefix}-${role}-${m.label}`,
                project: 'acs_fc',
                metric: m.metric,
                metricDimensions: pulumi
                  .all([args.serviceName, args.functionNames[role]])
                  .apply(([serviceName, functionName]) =>
                    JSON.stringify([{ userId: config.accountId, region: config.region, serviceName, functionName }]),
                  ),
                period: 60,
                escalationsCritical: { statistics: 'Sum', comparisonOperator: '>=', threshold: '1', times: 1 },
                contactGroups: [...config.alarms.contactGroups],
                silenceTime: 3600,
                enabled: true,
              },
              { parent: this },
            ),
          );
        }
      }
    }
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
