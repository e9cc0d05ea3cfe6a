/**
 * Network: none (FC's default Internet access), a new VPC + vSwitch + security group, or existing ids.
 * VPC slows cold starts (FC docs: configure it only when needed), so it is opt-in; SFTP hosts on private networks need it.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';

export interface NetworkOutputs {
  vpcId: pulumi.Output<string>;
  vswitchIds: pulumi.Output<string[]>;
  securityGroupId: pulumi.Output<string>;
}

export class Network extends pulumi.ComponentResource {
  /** Undefined when vpc.mode is "none". */
  readonly vpc?: NetworkOutputs;

  constructor(name: string, config: OssferryStackConfig, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:Network', name, {}, opts);
    const v = config.vpc;
    if (v.mode === 'create') {
      const vpc = new alicloud.vpc.Network(
        `${name}-vpc`,
        { vpcName: config.namePrefix, cidrBlock: v.cidrBlock, description: `ossferry ${config.stack}` },
        { parent: this },
      );
      const vswitch = new alicloud.vpc.Switch(
        `${name}-vswitch`,
        { vswitchName: `${config.namePrefix}-${v.zoneId}`, vpcId: vpc.id, cidrBlock: v.vswitchCidrBlock, zoneId: v.zoneId },
        { parent: this },
      );
      // No ingress rules: FC functions only make outbound connections. Egress is allowed by default.
      const sg = new alicloud.ecs.SecurityGroup(
        `${name}-sg`,
        { securityGroupName: config.namePrefix, vpcId: vpc.id, description: 'ossferry functions: outbound only' },
        { parent: this },
      );
      this.vpc = { vpcId: vpc.id, vswitchIds: pulumi.output([vswitch.id]), securityGroupId: sg.id };
    } else if (v.mode === 'existing') {
      this.vpc = {
        vpcId: pulumi.output(v.vpcId),
        vswitchIds: pulumi.output([...v.vswitchIds]),
        securityGroupId: pulumi.output(v.securityGroupId),
      };
    }
    this.registerOutputs(this.vpc ? { ...this.vpc } : {});
  }
}
