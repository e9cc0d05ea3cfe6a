/**
 * One OSS trigger per archive rule, on the coordinator. Events are limited to object *completion*:
 * `oss:ObjectCreated:*` would fire per UploadPart and InitiateMultipartUpload
 * (FC docs: OSS triggers and multipart uploads). Loop safety of the rules was decided by shared/archive-rules.ts at config load.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { ArchiveRule } from '../shared/archive-rules.ts';
import { ARCHIVE_EVENT_NAMES } from '../shared/events.ts';
import type { OssferryStackConfig } from './config-schema.ts';

/**
 * The trigger subscribes to exactly the events the coordinator acts on (shared/events.ts), so the two cannot
 * drift apart. The trigger config spells them with the "oss:" prefix; the delivered payload does not
 * (`ObjectCreated:PutObject`).
 */
export const ARCHIVE_TRIGGER_EVENTS: readonly string[] = Object.freeze(ARCHIVE_EVENT_NAMES.map((e) => `oss:${e}`));

/** The trigger's `config` JSON: `{"events":[…],"filter":{"key":{"prefix","suffix"}}}`. */
export function ossTriggerConfig(rule: ArchiveRule): string {
  return JSON.stringify({
    events: [...ARCHIVE_TRIGGER_EVENTS],
    filter: { key: { prefix: rule.sourcePrefix, suffix: rule.sourceSuffix } },
  });
}

/** An OSS trigger's sourceArn: `acs:oss:<region>:<accountId>:<bucket>`. */
export function ossSourceArn(c: Pick<OssferryStackConfig, 'region' | 'accountId'>, bucket: string): string {
  return `acs:oss:${c.region}:${c.accountId}:${bucket}`;
}

export interface ArchiveTriggersArgs {
  serviceName: pulumi.Input<string>;
  coordinatorName: pulumi.Input<string>;
  triggerRoleArn: pulumi.Input<string>;
  /** The role's policy attachment, and any bucket this stack creates. */
  dependsOn: pulumi.Resource[];
}

export class ArchiveTriggers extends pulumi.ComponentResource {
  readonly triggerNames: pulumi.Output<string[]>;

  constructor(name: string, config: OssferryStackConfig, args: ArchiveTriggersArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:ArchiveTriggers', name, {}, opts);
    const triggers = config.archiveRules.map(
      (rule) =>
        new alicloud.fc.Trigger(
          `${name}-${rule.name}`,
          {
            service: args.serviceName,
            function: args.coordinatorName,
            name: `${config.namePrefix}-${rule.name}`.slice(0, 128),
            type: 'oss',
            role: args.triggerRoleArn,
            sourceArn: ossSourceArn(config, rule.sourceBucket),
            config: ossTriggerConfig(rule),
          },
          { parent: this, dependsOn: args.dependsOn },
        ),
    );
    this.triggerNames = pulumi.all(triggers.map((t) => t.name));
    this.registerOutputs({ triggerNames: this.triggerNames });
  }
}
