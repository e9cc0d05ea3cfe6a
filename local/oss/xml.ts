/**
 * XML in and out. Responses are built by hand so element order and shape match OSS exactly
 * (oss-protocol.md §2.3, §3.2, §3.6); requests are validated then parsed with fast-xml-parser,
 * and anything malformed becomes 400 MalformedXML.
 */
import type { XMLParser as XMLParserType } from 'fast-xml-parser';
import { malformedXml } from './errors.ts';

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

// Loaded on first use: keeps the idle server's resident memory down (the 5 GiB test caps RSS at 200 MB).
let parserPromise: Promise<{ parser: XMLParserType; validate: (xml: string) => true | object }> | undefined;
function loadParser() {
  parserPromise ??= import('fast-xml-parser').then(({ XMLParser, XMLValidator }) => ({
    validate: (xml: string) => XMLValidator.validate(xml),
    parser: new XMLParser(PARSER_OPTIONS),
  }));
  return parserPromise;
}

const PARSER_OPTIONS = {
  ignoreAttributes: true,
  parseTagValue: false,
  // Keys may begin or end with spaces; whitespace-only text between elements is dropped by the parser anyway.
  trimValues: false,
  processEntities: true,
  isArray: (name: string) => name === 'Part' || name === 'Object',
};

/** Parses a request body; throws 400 MalformedXML if it is not well-formed or lacks `root`. */
export async function parseXmlBody(text: string, root: string): Promise<Record<string, unknown>> {
  const { parser, validate } = await loadParser();
  if (text.trim() === '' || validate(text) !== true) throw malformedXml();
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch {
    throw malformedXml();
  }
  const top = (doc as Record<string, unknown>)[root];
  if (top === undefined) throw malformedXml();
  return (typeof top === 'object' && top !== null ? top : {}) as Record<string, unknown>;
}

export interface CompletePart {
  partNumber: number;
  etag: string;
}

/** `<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…` (§2.3). Order preserved for the order check. */
export async function parseCompleteBody(text: string): Promise<CompletePart[]> {
  const top = await parseXmlBody(text, 'CompleteMultipartUpload');
  const parts = (top.Part ?? []) as unknown[];
  if (!Array.isArray(parts) || parts.length === 0) throw malformedXml();
  return parts.map((p) => {
    const o = p as Record<string, unknown>;
    const n = String(o.PartNumber ?? '').trim();
    const etag = o.ETag;
    if (!/^\d+$/.test(n) || typeof etag !== 'string') throw malformedXml();
    return { partNumber: Number(n), etag: etag.trim().replace(/^"|"$/g, '').replace(/^&quot;|&quot;$/g, '') };
  });
}

/** `<Delete><Quiet>true</Quiet><Object><Key>…</Key></Object>…</Delete>` (§2.3 deleteMulti). */
export async function parseDeleteBody(text: string): Promise<{ quiet: boolean; keys: string[] }> {
  const top = await parseXmlBody(text, 'Delete');
  const objects = (top.Object ?? []) as unknown[];
  if (!Array.isArray(objects) || objects.length === 0) throw malformedXml();
  const keys = objects.map((o) => {
    const k = (o as Record<string, unknown>).Key;
    if (typeof k !== 'string') throw malformedXml();
    return k;
  });
  return { quiet: String(top.Quiet ?? 'false').trim().toLowerCase() === 'true', keys };
}

/** ISO 8601 with milliseconds, as in OSS XML (`2015-12-12T00:36:26.000Z`). */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
