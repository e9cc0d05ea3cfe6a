/**
 * Coordinator answers and requests besides a job spec and its report, for following a job submitted
 * asynchronously (`ossferry copy` against a deployment):
 * - `{"kind":"resolve","job":<spec>}` asks, synchronously and cheaply (one source stat, nothing written), for
 *   the job id the spec will run under and where its status object lives; answered by `resolved`.
 * - `cancelled`: the answer of an invocation of a cancelled job (a successful answer, so FC does not retry it).
 */
import { z } from 'zod';

export interface ResolveRequest {
  kind: 'resolve';
  job: unknown;
}

export const resolvedAnswerSchema = z.object({
  kind: z.literal('resolved'),
  jobId: z.string().regex(/^j[0-9a-f]{32}$/),
  mode: z.enum(['copy', 'archive']),
  size: z.number().int().min(0),
  /** oss://bucket/prefix of the deployment's status objects; absent when it keeps none. */
  statusLocation: z.string().optional(),
});
export type ResolvedAnswer = z.output<typeof resolvedAnswerSchema>;

export interface CancelledAnswer {
  kind: 'cancelled';
  jobId: string;
  message: string;
}

/** A resolve request, or undefined for any other body. */
export function parseResolveRequest(body: unknown): ResolveRequest | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || (body as { kind?: unknown }).kind !== 'resolve') return undefined;
  return { kind: 'resolve', job: (body as { job?: unknown }).job };
}
