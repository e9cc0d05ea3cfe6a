/**
 * The source of a task: openSource (functions/sources), whose deps also carry the SFTP private key and
 * SftpSource tuning (tests, benchmarks). A host key pin with a source that takes none is refused, as the
 * job schema refuses it (shared/sources.ts jobFieldProblem).
 */
import { InvalidInputError } from '../../shared/errors.ts';
import { jobFieldProblem, parseSource } from '../../shared/sources.ts';
import { openDescriptor, type SourceDeps } from '../sources/index.ts';
import type { RangeSource } from '../sources/types.ts';

export type TaskSourceDeps = SourceDeps;

export function openTaskSource(url: string, deps: TaskSourceDeps = {}): RangeSource {
  const d = parseSource(url);
  if ('problem' in d) throw new InvalidInputError('source', d.problem, d.fix);
  const problem = deps.hostKeyFingerprint === undefined ? undefined : jobFieldProblem('sftpHostKeyFingerprint', d.kind);
  if (problem) throw new InvalidInputError('sftpHostKeyFingerprint', problem.problem, problem.fix);
  return openDescriptor(d, deps);
}
