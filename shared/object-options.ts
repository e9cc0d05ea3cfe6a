/**
 * What a job sets on the destination object (job spec field `object`; stack config `object.*` gives defaults):
 * storage class, server-side encryption, tags, ACL, and whether the source's attributes are kept. Pure and
 * dependency-light (zod only): the job schema, the coordinator's defaults and the Pulumi program's config check
 * share it, so all three accept the same values with the same messages.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.ts';

export const STORAGE_CLASSES = ['Standard', 'IA', 'Archive', 'ColdArchive', 'DeepColdArchive'] as const;
export const SSE_ALGORITHMS = ['AES256', 'KMS', 'SM4'] as const;
export const OBJECT_ACLS = ['default', 'private', 'public-read', 'public-read-write'] as const;

/** What the job sets on the destination object (job spec field `object`). */
export const objectOptionsSchema = z.strictObject({
  /** Keep the source's attributes (default true; --no-preserve drops them). */
  preserve: z.boolean().default(true),
  storageClass: z.enum(STORAGE_CLASSES).optional(),
  serverSideEncryption: z.enum(SSE_ALGORITHMS).optional(),
  /** KMS key id, only with serverSideEncryption KMS. */
  kmsKeyId: z.string().min(1).max(256).optional(),
  /** Object tags (OSS: at most 10, keys ≤ 128 and values ≤ 256 characters). */
  tags: z
    .record(z.string().min(1).max(128), z.string().max(256))
    .refine((t) => Object.keys(t).length <= 10, { message: 'has more than 10 tags (OSS allows 10 per object)' })
    .optional(),
  acl: z.enum(OBJECT_ACLS).optional(),
});
export type ObjectOptions = z.output<typeof objectOptionsSchema>;
export type ObjectOptionsInput = z.input<typeof objectOptionsSchema>;

/** A problem with object options that the schema cannot see alone; undefined when they are consistent. */
export function objectOptionsProblem(o: ObjectOptions): { field: string; problem: string; fix: string } | undefined {
  if (o.kmsKeyId !== undefined && o.serverSideEncryption !== 'KMS') {
    return { field: 'object.kmsKeyId', problem: 'only applies with serverSideEncryption KMS', fix: 'add --sse KMS, or remove --sse-kms-key-id' };
  }
  return undefined;
}

/** The object options a deployment may default (not `preserve`: keeping the source's attributes is per job). */
export const objectDefaultsSchema = objectOptionsSchema.omit({ preserve: true });
export type ObjectDefaults = Omit<ObjectOptions, 'preserve'>;

/** Checks object defaults as the job schema does; a problem names `field` (the stack key or the variable) and `fix`. */
export function parseObjectDefaults(value: unknown, field: string, fix: string): ObjectDefaults {
  const r = objectDefaultsSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InvalidInputError(`${field}${i?.path.length ? `.${i.path.join('.')}` : ''}`, i?.message ?? 'is invalid', fix);
  }
  const problem = objectOptionsProblem({ preserve: true, ...r.data });
  if (problem) throw new InvalidInputError(`${field}.${problem.field.replace(/^object\./, '')}`, problem.problem, fix);
  return r.data;
}
