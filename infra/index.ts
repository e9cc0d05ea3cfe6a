/**
 * Pulumi entry point (Pulumi.yaml `main`). Run by Node 24's type stripping, not ts-node: Pulumi.yaml sets
 * the nodejs runtime option `typescript: false`, and package.json `"type": "module"` makes Pulumi import
 * this file as ESM (see docs/deploy.md "How Pulumi runs this program").
 * Named exports are the stack outputs; none carries a secret.
 */
import { loadConfig } from './config.ts';
import { createStack } from './program.ts';

const out = createStack(loadConfig());

export const region = out.region;
export const accountId = out.accountId;
export const serviceName = out.serviceName;
export const coordinatorFunctionName = out.coordinatorFunctionName;
export const coordinatorFunctionArn = out.coordinatorFunctionArn;
export const workerFunctionName = out.workerFunctionName;
export const workerFunctionArn = out.workerFunctionArn;
export const serviceRoleArn = out.serviceRoleArn;
export const triggerRoleArn = out.triggerRoleArn;
export const logProject = out.logProject;
export const logStore = out.logStore;
export const imageReference = out.imageReference;
export const archiveTriggerNames = out.archiveTriggerNames;
export const ownedBuckets = out.ownedBuckets;
export const vpcId = out.vpcId;
export const asyncFailureQueue = out.asyncFailureQueue;
export const alarmNames = out.alarmNames;
export const copyFlags = out.copyFlags;
export const copyCommand = out.copyCommand;
export const copyCredentialEnv = out.copyCredentialEnv;
