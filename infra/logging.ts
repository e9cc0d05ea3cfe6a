/**
 * SLS project, logstore with retention, an index on the JSON log fields, and a throughput/errors dashboard.
 * FC ships each stdout line of a custom container into the service's logstore (FC docs: custom container logs);
 * the line lands in the `message` field, so shared/log.ts's JSON keys are indexed as json keys of `message`.
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import type { OssferryStackConfig } from './config-schema.ts';

/**
 * JSON fields of shared/log.ts lines worth querying. `bytes` / `durationMs` on part completions feed the
 * throughput chart; function engineers: log those names on a finished part for the dashboard to work.
 */
export const LOG_JSON_KEYS = Object.freeze([
  { name: 'level', type: 'text' },
  { name: 'msg', type: 'text' },
  { name: 'jobId', type: 'text' },
  { name: 'role', type: 'text' },
  { name: 'code', type: 'text' },
  { name: 'partNumber', type: 'long' },
  { name: 'bytes', type: 'long' },
  { name: 'durationMs', type: 'long' },
] as const);

/** Delimiters for full-text and text/JSON field indexes (SLS's default set). */
export const LOG_TOKEN = ' ,\'";=()[]{}?@&<>/:\n\t\r';

/** Fields FC itself adds to every function log entry. */
export const FC_LOG_FIELDS = Object.freeze(['serviceName', 'functionName', 'qualifier', 'instanceID']);

export function dashboardCharts(logstore: string): string {
  const chart = (title: string, query: string, xPos: number) => ({
    title,
    type: 'line',
    search: { logstore, topic: '', query, start: '-3600s', end: 'now' },
    display: { xAxis: ['t'], yAxis: ['v'], xPos, yPos: 0, width: 10, height: 12, displayName: title },
  });
  return JSON.stringify([
    chart(
      'Throughput (MB/s)',
      '* and message.bytes > 0 | SELECT date_trunc(\'minute\', __time__) AS t, sum("message.bytes") / 60.0 / 1048576 AS v GROUP BY t ORDER BY t',
      0,
    ),
    chart('Errors per minute', 'message.level: error | SELECT date_trunc(\'minute\', __time__) AS t, count(*) AS v GROUP BY t ORDER BY t', 10),
  ]);
}

export class Logging extends pulumi.ComponentResource {
  readonly projectName: pulumi.Output<string>;
  readonly logstoreName: pulumi.Output<string>;

  constructor(name: string, config: OssferryStackConfig, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:Logging', name, {}, opts);
    const c = config.logging;
    const project = new alicloud.log.Project(
      `${name}-project`,
      { projectName: c.project, description: `ossferry ${config.stack} function logs` },
      { parent: this },
    );
    const store = new alicloud.log.Store(
      `${name}-store`,
      {
        projectName: project.projectName,
        logstoreName: c.logstore,
        retentionPeriod: c.retentionDays,
        shardCount: c.shardCount,
        autoSplit: true,
        maxSplitShardCount: 64,
        appendMeta: true,
      },
      { parent: this },
    );
    new alicloud.log.StoreIndex(
      `${name}-index`,
      {
        project: project.projectName,
        logstore: store.logstoreName,
        fullText: { caseSensitive: false, token: LOG_TOKEN },
        fieldSearches: [
          {
            name: 'message',
            type: 'json',
            // SLS tokenizes the text keys inside a JSON field with the field's token: a JSON entry needs one
            // (the provider sends "" otherwise, and its own tests always set it).
            token: LOG_TOKEN,
            enableAnalytics: true,
            jsonKeys: LOG_JSON_KEYS.map((k) => ({ name: k.name, type: k.type, docValue: true })),
          },
          ...FC_LOG_FIELDS.map((f) => ({ name: f, type: 'text', enableAnalytics: true, token: ' ,;' })),
        ],
      },
      { parent: this },
    );
    if (c.dashboard) {
      new alicloud.log.Dashboard(
        `${name}-dashboard`,
        {
          projectName: project.projectName,
          dashboardName: `${config.namePrefix}-transfers`,
          displayName: `ossferry ${config.stack}: throughput and errors`,
          charList: store.logstoreName.apply(dashboardCharts),
        },
        { parent: this },
      );
    }
    this.projectName = project.projectName;
    this.logstoreName = store.logstoreName;
    this.registerOutputs({ projectName: this.projectName, logstoreName: this.logstoreName });
  }
}
