/**
 * The FC 2.0 service and its two functions, one image with the role chosen by env (issue 4).
 * Functions are `fc.V2Function`, not `fc.Function`: only V2Function can set cpu, diskSize and
 * customContainerConfig.accelerationType (fc.Function cannot). caPort is set explicitly
 * (the provider sends 0 when unset) and accelerationType "Default" explicitly (the default when omitted is disputed).
 */
import * as alicloud from '@pulumi/alicloud';
import * as pulumi from '@pulumi/pulumi';
import { FUNCTION_ENV, FUNCTION_LIFECYCLE } from '../shared/function-env.ts';
import type { FunctionSizing, OssferryStackConfig } from './config-schema.ts';
import { CA_PORT, functionEnvironment, withinEnvLimit } from './env.ts';
import type { FunctionRole } from './env.ts';
import type { NetworkOutputs } from './network.ts';

export interface TransferServiceArgs {
  serviceRoleArn: pulumi.Input<string>;
  logProject: pulumi.Input<string>;
  logstore: pulumi.Input<string>;
  imageReference: pulumi.Input<string>;
  network?: NetworkOutputs;
  /** onFailure destination of the coordinator's async config (AsyncFailureQueue). */
  asyncFailureDestination: string;
  /** Resources the async config must wait for (the queue). */
  asyncDependsOn: pulumi.Resource[];
  /** The service must not exist before its role can write logs and pull the image. */
  dependsOn: pulumi.Resource[];
}

/** Required by the API even for custom containers, which ignore it. */
const UNUSED_HANDLER = 'not-used';
/** Any non-empty handler enables the hook; custom containers get GET /pre-stop whatever it says. */
const PRE_STOP_HANDLER = 'pre-stop';

export class TransferService extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly coordinatorName: pulumi.Output<string>;
  readonly coordinatorArn: pulumi.Output<string>;
  readonly workerName: pulumi.Output<string>;
  readonly workerArn: pulumi.Output<string>;

  constructor(name: string, config: OssferryStackConfig, args: TransferServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ossferry:infra:TransferService', name, {}, opts);
    const service = new alicloud.fc.Service(
      `${name}-service`,
      {
        name: config.names.service,
        description: `ossferry ${config.stack}: large-file transfers into OSS`,
        role: args.serviceRoleArn,
        internetAccess: config.internetAccess,
        logConfig: { project: args.logProject, logstore: args.logstore, enableRequestMetrics: true, enableInstanceMetrics: true },
        ...(args.network
          ? {
              // No vpcId: the provider derives it from the first vSwitch (vpc_config.vpc_id is Computed-only in
              // alicloud/resource_alicloud_fc_service.go); setting it fails validation.
              vpcConfig: {
                vswitchIds: args.network.vswitchIds,
                securityGroupId: args.network.securityGroupId,
              },
            }
          : {}),
      },
      { parent: this, dependsOn: args.dependsOn },
    );

    const fn = (role: FunctionRole, functionName: string, sizing: FunctionSizing) => {
      const env: Record<string, pulumi.Input<string>> = functionEnvironment(config, role);
      const secretKey = config.secrets.sftpPrivateKey;
      if (secretKey) {
        const plain = functionEnvironment(config, role);
        // The 4 KB environment limit (infra/env.ts) including the key, checked once its value is known.
        env[FUNCTION_ENV.SFTP_PRIVATE_KEY] = pulumi.secret(secretKey).apply((key) => withinEnvLimit(plain, key, role));
      }
      return new alicloud.fc.V2Function(
        `${name}-${role}`,
        {
          serviceName: service.name,
          functionName,
          description: `ossferry ${role}`,
          runtime: 'custom-container',
          handler: UNUSED_HANDLER,
          caPort: CA_PORT,
          memorySize: sizing.memoryMb,
          cpu: sizing.vcpu,
          diskSize: sizing.diskMb,
          timeout: sizing.timeoutSeconds,
          instanceConcurrency: sizing.instanceConcurrency,
          customContainerConfig: { image: args.imageReference, accelerationType: 'Default', webServerMode: true },
          // FC calls GET /pre-stop only when configured: the runtime aborts in-flight work there so parts end
          // cleanly (functions/runtime/server.ts). No pre-freeze: the runtime has nothing to flush.
          instanceLifecycleConfig: { preStop: { handler: PRE_STOP_HANDLER, timeout: FUNCTION_LIFECYCLE.preStopTimeoutSeconds } },
          environmentVariables: env,
        },
        { parent: this, ...(secretKey ? { additionalSecretOutputs: ['environmentVariables'] } : {}) },
      );
    };
    const worker = fn('worker', config.names.workerFunction, config.worker);
    const coordinator = fn('coordinator', config.names.coordinatorFunction, config.coordinator);

    // OSS triggers invoke asynchronously, so FC's async retry policy applies: bound it.
    new alicloud.fc.FunctionAsyncInvokeConfig(
      `${name}-coordinator-async`,
      {
        serviceName: service.name,
        functionName: coordinator.functionName,
        maximumRetryAttempts: config.coordinator.asyncRetryAttempts,
        maximumEventAgeInSeconds: config.coordinator.asyncMaxEventAgeSeconds,
        // An event whose retries ran out lands in the stack's queue instead of vanishing.
        destinationConfig: { onFailure: { destination: args.asyncFailureDestination } },
      },
      { parent: this, dependsOn: args.asyncDependsOn },
    );

    this.serviceName = service.name;
    this.coordinatorName = coordinator.functionName;
    this.coordinatorArn = coordinator.functionArn;
    this.workerName = worker.functionName;
    this.workerArn = worker.functionArn;
    this.registerOutputs({
      serviceName: this.serviceName,
      coordinatorName: this.coordinatorName,
      coordinatorArn: this.coordinatorArn,
      workerName: this.workerName,
      workerArn: this.workerArn,
    });
  }
}
