/**
 * `openSource(url, deps)`: a source URL → its RangeSource, through the source registry: the URL parsed by its
 * scheme's entry (shared/sources.ts), opened by its kind's opener (./registry.ts), and screened by that
 * opener before the source's first stat() or read().
 */
import { InvalidInputError } from '../../shared/errors.ts';
import { parseSource, type SourceDescriptor } from '../../shared/sources.ts';
import { SOURCE_OPENERS, type SourceDeps, type SourceOpener } from './registry.ts';
import type { RangeSource } from './types.ts';

export type { OssSourceHints, SourceDeps } from './registry.ts';

/**
 * `source` with stat() and read() first waiting for `screen` (run once; a refusal fails every call). A proxy,
 * so the kind's own members (SftpSource stats, instanceof) stay reachable.
 */
function screenedFirst<S extends RangeSource>(source: S, screen: () => Promise<void>): S {
  let screened: Promise<void> | undefined;
  const once = () => (screened ??= screen());
  // The kind's own methods, taken once: the wrappers never look them up again, so nothing can loop through them.
  const kindStat = source.stat.bind(source);
  const kindRead = source.read.bind(source);
  const stat: RangeSource['stat'] = async (signal) => {
    await once();
    return kindStat(signal);
  };
  const read: RangeSource['read'] = async (start, end, pin, signal) => {
    await once();
    return kindRead(start, end, pin, signal);
  };
  return new Proxy(source, {
    get(target, prop) {
      if (prop === 'stat') return stat;
      if (prop === 'read') return read;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    set(target, prop, value) {
      // Replacing stat/read would bypass the screen or be ignored: a caller wraps the source instead.
      if (prop === 'stat' || prop === 'read') throw new TypeError(`a screened source's ${String(prop)} cannot be replaced; wrap the source instead`);
      return Reflect.set(target, prop, value, target);
    },
  });
}

/** Opens a source by URL. Throws InvalidInputError naming `source` for a URL no registry entry takes. */
export function openSource(url: string, deps: SourceDeps = {}): RangeSource {
  const d = parseSource(url);
  if ('problem' in d) throw new InvalidInputError('source', d.problem, d.fix);
  return openDescriptor(d, deps);
}

/** Opens a parsed source with its kind's opener, screened before any connection. */
export function openDescriptor(d: SourceDescriptor, deps: SourceDeps = {}): RangeSource {
  const opener = SOURCE_OPENERS[d.kind] as SourceOpener<typeof d.kind>;
  return screenedFirst(opener.open(d, deps), () => opener.screen(d, deps));
}
