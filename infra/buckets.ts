/**
 * Buckets this stack creates and owns (config `createBuckets`), each with a lifecycle rule that aborts
 * incomplete multipart uploads after N days: orphaned parts are billed and invisible (OSS docs: delete parts).
 *
 * Only owned buckets get the rule. PutBucketLifecycle replaces a bucket's whole rule set (OSS API
 * reference, PutBucketLifecycle), and @pulumi/alicloud 3.108 has no standalone lifecycle resource (only oss.Bucket.lifecycleRules), so
 * managing lifecycle on a bucket the user already has would silently delete their rules. docs/deploy.md
 * shows how to add the rule to an existing bucket by hand, merged with its rules.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';

export const ABORT_RULE_ID = 'ossferry-abort-incomplete-multipart-uploads';

export function abortIncompleteUploadsRule(days: number) {
  return { id: ABORT_RULE_ID, enabled: true, prefix: '', abortMultipartUploads: [{ days }] };
}

export class Buckets extends pulumi.ComponentResource {
  readonly buckets: alicloud.oss.Bucket[];

  constructor(name: string, config: OssferryStackConfig, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:Buckets', name, {}, opts);
    this.buckets = config.createBuckets.map(
      (bucket) =>
        new alicloud.oss.Bucket(
          `${name}-${bucket}`,
          {
            bucket,
            forceDestroy: false,
            lifecycleRules: [abortIncompleteUploadsRule(config.abortIncompleteUploadsDays)],
            tags: { 'managed-by': 'ossferry', stack: config.stack },
          },
          { parent: this },
        ),
    );
    this.registerOutputs({ bucketNames: this.buckets.map((b) => b.bucket) });
  }
}
