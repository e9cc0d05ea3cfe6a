/**
 * RAM: the FC service role (trusted by fc.aliyuncs.com) with least-privilege custom policies, and the OSS
 * trigger's invocation role (trusted by oss.aliyuncs.com, may invoke the coordinator only).
 * ram.Role uses roleName/assumeRolePolicyDocument and ram.Policy policyName/policyDocument: the older
 * name/document properties are deprecated in @pulumi/alicloud.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';
import type { NetworkOutputs } from './network.ts';
import { packPolicyDocuments, serviceRoleStatements, triggerRoleStatements, trustPolicy, vpcStatements } from './policy.ts';

/**
 * A RAM custom policy keeps at most 5 versions; without a rotate strategy the 6th change of a document fails
 * (alicloud/resource_alicloud_ram_policy.go, rotate_strategy). Dropping the oldest non-default version keeps
 * every later `pulumi up` working.
 */
export const POLICY_ROTATE_STRATEGY = 'DeleteOldestNonDefaultVersionWhenLimitExceeded';

export class Roles extends pulumi.ComponentResource {
  readonly serviceRoleArn: pulumi.Output<string>;
  readonly serviceRoleName: pulumi.Output<string>;
  /** Undefined when there are no archive rules (no OSS trigger needs it). */
  readonly triggerRoleArn?: pulumi.Output<string>;
  /** Resources the FC service must wait for: the role is useless until its policies are attached. */
  readonly attachments: pulumi.Resource[] = [];

  constructor(name: string, config: OssferryStackConfig, network: NetworkOutputs | undefined, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:Roles', name, {}, opts);
    const n = config.names;

    const serviceRole = new alicloud.ram.Role(
      `${name}-service`,
      {
        roleName: n.serviceRole,
        assumeRolePolicyDocument: trustPolicy('fc.aliyuncs.com'),
        description: `ossferry ${config.stack}: FC service role (OSS transfer, worker fan-out, logs, image pull)`,
      },
      { parent: this },
    );
    const attach = (suffix: string, roleName: pulumi.Input<string>, document: pulumi.Input<string>, description: string) => {
      const policy = new alicloud.ram.Policy(
        `${name}-${suffix}`,
        { policyName: `${n.policyPrefix}-${suffix}`.slice(0, 128), policyDocument: document, description, rotateStrategy: POLICY_ROTATE_STRATEGY },
        { parent: this },
      );
      this.attachments.push(
        new alicloud.ram.RolePolicyAttachment(
          `${name}-${suffix}-attach`,
          { roleName, policyName: policy.policyName, policyType: 'Custom' },
          { parent: this },
        ),
      );
    };

    packPolicyDocuments(serviceRoleStatements(config)).forEach((doc, i) =>
      attach(`p${i}`, serviceRole.roleName, doc, `ossferry ${config.stack}: FC service permissions (part ${i + 1})`),
    );
    if (network) {
      const doc = pulumi
        .all([network.vpcId, network.vswitchIds])
        .apply(([vpcId, vswitchIds]) => JSON.stringify({ Version: '1', Statement: vpcStatements(config, { vpcId, vswitchIds }) }));
      attach('vpc', serviceRole.roleName, doc, `ossferry ${config.stack}: FC VPC access`);
    }

    if (config.archiveRules.length > 0) {
      const triggerRole = new alicloud.ram.Role(
        `${name}-trigger`,
        {
          roleName: n.triggerRole,
          assumeRolePolicyDocument: trustPolicy('oss.aliyuncs.com'),
          description: `ossferry ${config.stack}: OSS trigger invocation role (coordinator only)`,
        },
        { parent: this },
      );
      const triggerPolicy = new alicloud.ram.Policy(
        `${name}-trigger-policy`,
        {
          policyName: `${n.triggerRole}-invoke`,
          policyDocument: JSON.stringify({ Version: '1', Statement: triggerRoleStatements(config) }),
          description: `ossferry ${config.stack}: OSS trigger may invoke the coordinator`,
          rotateStrategy: POLICY_ROTATE_STRATEGY,
        },
        { parent: this },
      );
      this.attachments.push(
        new alicloud.ram.RolePolicyAttachment(
          `${name}-trigger-attach`,
          { roleName: triggerRole.roleName, policyName: triggerPolicy.policyName, policyType: 'Custom' },
          { parent: this },
        ),
      );
      this.triggerRoleArn = triggerRole.arn;
    }

    this.serviceRoleArn = serviceRole.arn;
    this.serviceRoleName = serviceRole.roleName;
    this.registerOutputs({ serviceRoleArn: this.serviceRoleArn, triggerRoleArn: this.triggerRoleArn });
  }
}
