/**
 * XML in and out. Responses are built by hand so element order and shape match OSS exactly
 * (as OSS answers and ali-oss parses them); request bodies are read per XML 1.0 by xml-parse.ts (no DTDs, no external
 * entities), and anything not well-formed or of the wrong shape becomes 400 MalformedXML.
 */
import { malformedXml } from './errors.ts';
import { childNamed, childrenNamed, parseXml, XmlSyntaxError, type XmlElement } from './xml-parse.ts';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** A tree of elements: string leaves, nested objects, arrays for repeated elements. */
export type XmlNode = string | number | boolean | undefined | XmlObject | XmlNode[];
export interface XmlObject {
  [name: string]: XmlNode;
}

function render(name: string, node: XmlNode, out: string[]): void {
  if (node === undefined) return;
  if (Array.isArray(node)) {
    for (const n of node) render(name, n, out);
    return;
  }
  if (typeof node === 'object') {
    out.push(`<${name}>`);
    for (const [k, v] of Object.entries(node)) render(k, v, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(node))}</${name}>`);
}

export function toXml(root: string, body: XmlObject): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  render(root, body, out);
  return out.join('');
}

/** Parses a request body with `root` as its root element; anything not well-formed → 400 MalformedXML. */
export function parseXmlBody(text: string, root: string): XmlElement {
  let doc: XmlElement;
  try {
    doc = parseXml(text);
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw malformedXml();
    throw err;
  }
  if (doc.name !== root) throw malformedXml();
  return doc;
}

/** One child's text, or undefined; a duplicated child is malformed. */
function childText(el: XmlElement, name: string): string | undefined {
  try {
    return childNamed(el, name)?.text;
  } catch {
    throw malformedXml();
  }
}

export interface CompletePart {
  partNumber: number;
  etag: string;
}

/**
 * `<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…` (as ali-oss sends it). Order preserved for the order check.
 * ETags arrive quoted (`"…"`, which Go's encoding/xml writes as `&#34;…&#34;`); the quotes are not part of it.
 */
export function parseCompleteBody(text: string): CompletePart[] {
  const top = parseXmlBody(text, 'CompleteMultipartUpload');
  const parts = childrenNamed(top, 'Part');
  if (parts.length === 0) throw malformedXml();
  return parts.map((p) => {
    const n = childText(p, 'PartNumber')?.trim() ?? '';
    const etag = childText(p, 'ETag');
    if (!/^\d+$/.test(n) || etag === undefined) throw malformedXml();
    return { partNumber: Number(n), etag: etag.trim().replace(/^"|"$/g, '') };
  });
}

/** `<Delete><Quiet>true</Quiet><Object><Key>…</Key></Object>…</Delete>` (ali-oss deleteMulti); keys exact. */
export function parseDeleteBody(text: string): { quiet: boolean; keys: string[] } {
  const top = parseXmlBody(text, 'Delete');
  const objects = childrenNamed(top, 'Object');
  if (objects.length === 0) throw malformedXml();
  const keys = objects.map((o) => {
    const k = childText(o, 'Key');
    if (k === undefined) throw malformedXml();
    return k;
  });
  return { quiet: (childText(top, 'Quiet') ?? 'false').trim().toLowerCase() === 'true', keys };
}

/** Optional `<CreateBucketConfiguration>` of PutBucket: only checked to be well-formed. */
export function parseCreateBucketBody(text: string): void {
  parseXmlBody(text, 'CreateBucketConfiguration');
}

/** ISO 8601 with milliseconds, as in OSS XML (`2015-12-12T00:36:26.000Z`). */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
