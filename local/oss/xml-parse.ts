/**
 * A strict, small XML 1.0 reader for request bodies (Complete, Delete, CreateBucketConfiguration): elements,
 * attributes (checked, then ignored), character data with character references (decimal and hex) and the five
 * predefined entities, CDATA sections, comments, processing instructions, line-end normalisation (§2.11), and
 * namespaces (names read by local part; a prefix must be declared). There is no DTD support at all: a DOCTYPE or
 * any other entity reference is not well-formed here, so no external entity can ever be fetched or expanded.
 * Pure; throws XmlSyntaxError, which the caller turns into 400 MalformedXML.
 */

export interface XmlElement {
  /** Local name (namespace prefix removed). */
  name: string;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (text and CDATA). */
  text: string;
}

export class XmlSyntaxError extends Error {}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

// XML 1.0 NameStartChar / NameChar (§2.3), including astral planes.
const NAME = /^[:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}][:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}\-.0-9\u00B7\u0300-\u036F\u203F-\u2040]*$/u;
// Anything outside XML 1.0's Char production (§2.2); lone surrogates included.
const ILLEGAL_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const isXmlChar = (cp: number) =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);

const fail = (what: string): never => {
  throw new XmlSyntaxError(what);
};

/** Decodes references in character data or an attribute value (raw text already checked for `<`). */
function decodeRefs(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&]*);|&/g, (m, body: string | undefined) => {
    if (body === undefined) return fail('bare & (escape it as &amp;)');
    if (body.startsWith('#')) {
      const cp = /^#x[0-9A-Fa-f]+$/.test(body) ? parseInt(body.slice(2), 16) : /^#[0-9]+$/.test(body) ? parseInt(body.slice(1), 10) : NaN;
      if (!isXmlChar(cp)) return fail(`character reference ${m} is not an XML character`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[body];
    return v ?? fail(`undefined entity ${m} (only the five predefined entities exist without a DTD)`);
  });
}

/** §2.11: CR LF and lone CR become LF in literal text (references are decoded afterwards, so &#xD; survives). */
const normaliseLineEnds = (s: string) => (s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s);

interface Open {
  el: XmlElement;
  qname: string;
  /** Prefixes declared on this element (inherited ones live in the stack below). */
  prefixes: Set<string>;
}

function localName(qname: string, stack: Open[], own: Set<string>): string {
  const colon = qname.indexOf(':');
  if (colon === -1) return qname;
  const prefix = qname.slice(0, colon);
  const local = qname.slice(colon + 1);
  if (local === '' || local.includes(':')) fail(`bad qualified name ${qname}`);
  if (prefix !== 'xml' && !own.has(prefix) && !stack.some((o) => o.prefixes.has(prefix))) fail(`undeclared namespace prefix ${prefix}`);
  return local;
}

const validNames = new Map<string, boolean>();
/** NAME.test, memoised: a body repeats the same few element names thousands of times. */
function isName(n: string): boolean {
  let ok = validNames.get(n);
  if (ok === undefined) {
    ok = NAME.test(n);
    if (validNames.size < 1024) validNames.set(n, ok);
  }
  return ok;
}

// Sticky patterns matched in place (lastIndex), so scanning makes no substrings.
const TAG_NAME = /[^\s/>]+/y;
const SPACES = /[ \t\r\n]*/y;
const ATTRIBUTE = /([^\s=/>]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"<]*)"|'([^'<]*)')/y;
const END_TAG = /<\/([^\s>]+)[ \t\r\n]*>/y;

function matchAt(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/** Parses `<name attr="v" …` up to and including `>` or `/>`, starting after `<`. */
function readTag(s: string, i: number): { qname: string; attrs: Map<string, string>; end: number; selfClosing: boolean } {
  const nameMatch = matchAt(TAG_NAME, s, i);
  if (!nameMatch || !isName(nameMatch[0])) fail('bad element name');
  const qname = nameMatch![0];
  let p = i + qname.length;
  const attrs = new Map<string, string>();
  for (;;) {
    const ws = matchAt(SPACES, s, p)![0].length;
    p += ws;
    if (s.startsWith('/>', p)) return { qname, attrs, end: p + 2, selfClosing: true };
    if (s[p] === '>') return { qname, attrs, end: p + 1, selfClosing: false };
    if (ws === 0) fail('attributes must be separated by whitespace');
    const m = matchAt(ATTRIBUTE, s, p);
    if (!m || !isName(m[1]!)) return fail('bad attribute');
    if (attrs.has(m[1]!)) fail(`duplicate attribute ${m[1]}`);
    attrs.set(m[1]!, decodeRefs(normaliseLineEnds(m[2] ?? m[3] ?? '')));
    p += m[0].length;
  }
}

/** The document's root element. */
export function parseXml(input: string): XmlElement {
  const s = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (ILLEGAL_CHAR.test(s)) fail('a character XML does not allow');
  const stack: Open[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const misc = (where: string) => {
    // Outside the root only whitespace, comments and PIs may appear.
    const lt = s.indexOf('<', i);
    const text = s.slice(i, lt === -1 ? s.length : lt);
    if (text.trim() !== '') fail(`text ${where} the root element`);
    i = lt === -1 ? s.length : lt;
  };
  if (s.startsWith('<?xml', 0) && /^<\?xml[ \t\r\n]/.test(s)) {
    const end = s.indexOf('?>');
    if (end === -1) fail('unterminated XML declaration');
    i = end + 2;
  }
  while (i < s.length) {
    if (stack.length === 0) {
      misc(root ? 'after' : 'before');
      if (i >= s.length) break;
    }
    const top = stack[stack.length - 1];
    if (s[i] !== '<') {
      const lt = s.indexOf('<', i);
      if (lt === -1) fail('unterminated element');
      const raw = s.slice(i, lt);
      if (raw.includes(']]>')) fail(']]> in character data');
      // Whitespace between child elements is not content anyone reads; skip building it.
      if (top!.el.children.length === 0 || raw.trim() !== '') top!.el.text += decodeRefs(normaliseLineEnds(raw));
      i = lt;
      continue;
    }
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      if (end === -1) fail('unterminated comment');
      if (s.slice(i + 4, end).includes('--') || s[end - 1] === '-') fail('-- inside a comment');
      i = end + 3;
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      if (!top) fail('CDATA outside the root element');
      const end = s.indexOf(']]>', i + 9);
      if (end === -1) fail('unterminated CDATA section');
      top!.el.text += normaliseLineEnds(s.slice(i + 9, end));
      i = end + 3;
      continue;
    }
    if (s.startsWith('<!', i)) fail('DOCTYPE and markup declarations are not accepted');
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i + 2);
      if (end === -1) fail('unterminated processing instruction');
      const target = /^[^\s?]+/.exec(s.slice(i + 2, end))?.[0] ?? '';
      if (!isName(target) || target.toLowerCase() === 'xml') fail('bad processing instruction');
      i = end + 2;
      continue;
    }
    if (s[i + 1] === '/') {
      const m = matchAt(END_TAG, s, i);
      if (!m || !top || m[1] !== top.qname) fail('mismatched end tag');
      stack.pop();
      i += m![0].length;
      continue;
    }
    if (root && stack.length === 0) fail('more than one root element');
    const tag = readTag(s, i + 1);
    const own = new Set<string>();
    for (const [name, value] of tag.attrs) {
      if (name.startsWith('xmlns:')) {
        if (value === '') fail('an empty namespace name cannot be bound to a prefix');
        own.add(name.slice(6));
      } else if (name.includes(':')) localName(name, stack, own);
    }
    const el: XmlElement = { name: localName(tag.qname, stack, own), children: [], text: '' };
    if (top) top.el.children.push(el);
    else root = el;
    if (!tag.selfClosing) stack.push({ el, qname: tag.qname, prefixes: own });
    i = tag.end;
  }
  if (stack.length > 0) fail('unterminated element');
  return root ?? fail('no root element');
}

/** Direct children named `name`. */
export const childrenNamed = (el: XmlElement, name: string) => el.children.filter((c) => c.name === name);

/** The single direct child named `name`, or undefined. More than one → syntax error. */
export function childNamed(el: XmlElement, name: string): XmlElement | undefined {
  const all = childrenNamed(el, name);
  if (all.length > 1) fail(`more than one <${name}>`);
  return all[0];
}
