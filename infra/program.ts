/**
 * The whole stack, built from one validated config object. infra/index.ts calls it with the loaded config;
 * tests call it with configs of their own under pulumi.runtime.setMocks.
 */
import * as pulumi from '@pulumi/pulumi';
import { ArchiveTriggers } from './archive-triggers.ts';
import { AsyncFailureQueue, FunctionAlarms } from './alerts.ts';
import { Buckets } from './buckets.ts';
import type { OssferryStackConfig } from './config-schema.ts';
import { Image } from './image.ts';
import { Logging } from './logging.ts';
import { Network } from './network.ts';
import { Roles } from './roles.ts';
import { SweepTimer } from './sweep-timer.ts';
import { TransferService } from './transfer-service.ts';

/** Credentials `ossferry copy` reads from the environment (the CLI uses these exact names). */
export const CLI_CREDENTIAL_ENV = Object.freeze(['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'] as const);

export interface StackOutputs {
  region: string;
  accountId: string;
  serviceName: pulumi.Output<string>;
  coordinatorFunctionName: pulumi.Output<string>;
  coordinatorFunctionArn: pulumi.Output<string>;
  workerFunctionName: pulumi.Output<string>;
  workerFunctionArn: pulumi.Output<string>;
  serviceRoleArn: pulumi.Output<string>;
  triggerRoleArn: pulumi.Output<string> | undefined;
  logProject: pulumi.Output<string>;
  logStore: pulumi.Output<string>;
  imageReference: pulumi.Output<string>;
  archiveTriggerNames: pulumi.Output<string[]>;
  ownedBuckets: string[];
  vpcId: pulumi.Output<string> | undefined;
  /** MNS queue holding coordinator async events whose retries ran out. */
  asyncFailureQueue: pulumi.Output<string>;
  alarmNames: pulumi.Output<string[]>;
  /** `--fc-account-id … --fc-region … --fc-service … --fc-function …` for `ossferry copy`. */
  copyFlags: pulumi.Output<string>;
  /** A complete example command line; credentials come from the environment, never from outputs. */
  copyCommand: pulumi.Output<string>;
  copyCredentialEnv: string[];
}

export function createStack(config: OssferryStackConfig): StackOutputs {
  const network = new Network('network', config);
  const roles = new Roles('roles', config, network.vpc);
  const logging = new Logging('logging', config);
  const image = new Image('image', config);
  const buckets = new Buckets('buckets', config);
  const failures = new AsyncFailureQueue('async-failures', config);
  const transfer = new TransferService('transfer', config, {
    serviceRoleArn: roles.serviceRoleArn,
    logProject: logging.projectName,
    logstore: logging.logstoreName,
    imageReference: image.reference,
    ...(network.vpc ? { network: network.vpc } : {}),
    dependsOn: [...roles.attachments, logging],
    asyncFailureDestination: failures.destination,
    asyncDependsOn: [failures.queue],
  });
  const alarms = new FunctionAlarms('alarms', config, {
    serviceName: transfer.serviceName,
    functionNames: { coordinator: transfer.coordinatorName, worker: transfer.workerName },
  });
  new SweepTimer('sweep', config, { serviceName: transfer.serviceName, coordinatorName: transfer.coordinatorName });
  let triggerNames: pulumi.Output<string[]> = pulumi.output([]);
  if (roles.triggerRoleArn) {
    const triggers = new ArchiveTriggers('archive', config, {
      serviceName: transfer.serviceName,
      coordinatorName: transfer.coordinatorName,
      triggerRoleArn: roles.triggerRoleArn,
      dependsOn: [...roles.attachments, ...buckets.buckets],
    });
    triggerNames = triggers.triggerNames;
  }

  const copyFlags = pulumi.interpolate`--fc-account-id ${config.accountId} --fc-region ${config.region} --fc-service ${transfer.serviceName} --fc-function ${transfer.coordinatorName}`;
  const dest = config.destinations[0];
  const example = dest ? `oss://${dest.bucket}/${dest.prefix}` : 'oss://<bucket>/<prefix>';
  const copyCommand = pulumi.interpolate`${CLI_CREDENTIAL_ENV.map((k) => `${k}=<…>`).join(' ')} ossferry copy ${copyFlags} <source-url> ${example}`;

  return {
    region: config.region,
    accountId: config.accountId,
    serviceName: transfer.serviceName,
    coordinatorFunctionName: transfer.coordinatorName,
    coordinatorFunctionArn: transfer.coordinatorArn,
    workerFunctionName: transfer.workerName,
    workerFunctionArn: transfer.workerArn,
    serviceRoleArn: roles.serviceRoleArn,
    triggerRoleArn: roles.triggerRoleArn,
    logProject: logging.projectName,
    logStore: logging.logstoreName,
    imageReference: image.reference,
    archiveTriggerNames: triggerNames,
    ownedBuckets: [...config.createBuckets],
    vpcId: network.vpc?.vpcId,
    asyncFailureQueue: failures.queue.queueName,
    alarmNames: alarms.alarmNames,
    copyFlags,
    copyCommand,
    copyCredentialEnv: [...CLI_CREDENTIAL_ENV],
  };
}
