/** Paging of sorted key listings (ListObjects, ListMultipartUploads). Pure. */
import { compareKeys } from './store.ts';

/** One page of a key listing with prefix/delimiter grouping; common prefixes count toward max (OSS/S3 rule). */
export function listPage<T>(
  sorted: T[],
  keyOf: (t: T) => string,
  o: { prefix: string; after: string; delimiter: string; max: number },
): { items: T[]; prefixes: string[]; truncated: boolean; last: string } {
  const items: T[] = [];
  const prefixes: string[] = [];
  let last = '';
  let truncated = false;
  for (const t of sorted) {
    const key = keyOf(t);
    if (!key.startsWith(o.prefix)) continue;
    if (o.after !== '' && compareKeys(key, o.after) <= 0) continue;
    let entry: { prefix: string } | undefined;
    if (o.delimiter !== '') {
      const i = key.indexOf(o.delimiter, o.prefix.length);
      if (i !== -1) entry = { prefix: key.slice(0, i + o.delimiter.length) };
    }
    if (entry && entry.prefix === prefixes[prefixes.length - 1]) continue;
    // A page that ended on a common prefix resumes after every key under it.
    if (entry && o.after !== '' && compareKeys(entry.prefix, o.after) <= 0) continue;
    if (items.length + prefixes.length >= o.max) {
      truncated = true;
      break;
    }
    if (entry) {
      prefixes.push(entry.prefix);
      last = entry.prefix;
    } else {
      items.push(t);
      last = key;
    }
  }
  return { items, prefixes, truncated, last };
}
