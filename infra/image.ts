/**
 * The function image reference, and optionally the ACR personal-edition namespace and repository
 * (set the registry password in the ACR console once before first use). ACR
 * Enterprise Edition cannot be used: no FC 2.0 Pulumi resource exposes `instanceID`.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';

export class Image extends pulumi.ComponentResource {
  readonly reference: pulumi.Output<string>;

  constructor(name: string, config: OssferryStackConfig, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:Image', name, {}, opts);
    const i = config.image;
    if (i.createRepository) {
      const ns = new alicloud.cr.Namespace(
        `${name}-namespace`,
        { name: i.namespace, autoCreate: false, defaultVisibility: 'PRIVATE' },
        { parent: this },
      );
      const repo = new alicloud.cr.Repo(
        `${name}-repo`,
        { name: i.repo, namespace: ns.name, repoType: 'PRIVATE', summary: 'ossferry coordinator/worker image' },
        { parent: this },
      );
      // Functions must wait for the repository; the reference string itself is config.
      this.reference = pulumi.all([ns.name, repo.name]).apply(() => i.reference);
    } else {
      this.reference = pulumi.output(i.reference);
    }
    this.registerOutputs({ reference: this.reference });
  }
}
