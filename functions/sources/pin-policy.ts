/**
 * The job's unpinned-source policy applied at stat(): a source without a strong validator is refused before
 * the job plans or uploads anything (shared/pinning.ts), or, under `trust`, let through with a warning.
 * Applies to http(s) sources; SFTP pins by size and mtime, checked on every read (./sftp.ts).
 */
import type { Logger } from '../../shared/log.ts';
import { checkPinned, type UnpinnedPolicy } from '../../shared/pinning.ts';
import type { RangeSource, SourceIdentity } from './types.ts';

export function withPinPolicy(source: RangeSource, policy: UnpinnedPolicy, logger?: Logger): RangeSource {
  return {
    get displayUrl() {
      return source.displayUrl;
    },
    async stat(signal?: AbortSignal): Promise<SourceIdentity> {
      const id = await source.stat(signal);
      if (checkPinned(id, policy, source.displayUrl).unpinned) {
        logger?.warn('source is unpinned; copied anyway because the job says unpinned: trust', { source: source.displayUrl });
      }
      return id;
    },
    read: (start, end, pin, signal) => source.read(start, end, pin, signal),
    attributes: () => source.attributes?.(),
    close: () => source.close(),
  };
}
