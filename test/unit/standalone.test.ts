/**
 * The repository stands alone: no tracked file points at research notes kept outside it (their file names or
 * their folder). A comment states the fact itself and, where useful, names a public primary source instead
 * (docs/CONVENTIONS.md). The patterns are assembled from pieces so that this file does not match itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

const NOTE_NAMES = [['oss', 'protocol'], ['fc', 'platform'], ['crc', 'gzip'], ['peers'], ['platform', '2026', '12']].map((p) => p.join('-'));
const NOTES_FOLDER = ['shared', 'reference'].join('/');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const POINTER = new RegExp(
  [...NOTE_NAMES.map((n) => `\\b${escape(n)}\\.md\\b`), `\\b${escape(['fc', 'platform'].join('-'))}\\b`, escape(NOTES_FOLDER)].join('|'),
  'i',
);

/** `file:line: text` for every line of a tracked text file that points at the outside notes. */
function pointersIn(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(path.join(ROOT, file), 'utf8');
    } catch {
      continue; // tracked but deleted in this checkout
    }
    if (text.includes('\0')) continue; // binary
    text.split('\n').forEach((line, i) => {
      if (POINTER.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

describe('standalone repository', () => {
  it('recognises every form of pointer at the outside notes', () => {
    // Prepare
    const samples = [
      `(${NOTE_NAMES[0]}.md §3.5)`,
      `${NOTE_NAMES[1]}.md §2.4`,
      `see ${NOTE_NAMES[2]}.md §3`,
      `${NOTE_NAMES[3]}.md §0 item 11`,
      `${NOTE_NAMES[4]}.md`,
      `../${NOTES_FOLDER}/x.md`,
      `${NOTES_FOLDER}/y.md §1`,
      `FC API reference (${NOTE_NAMES[1]} notes)`,
    ];
    const innocent = ['import { retry } from "../../shared/retry.ts";', 'RFC 9110 §13.1.1', 'OSS API reference, GetObject'];
    // Act
    const flagged = samples.filter((s) => POINTER.test(s));
    const wronglyFlagged = innocent.filter((s) => POINTER.test(s));
    // Assess
    expect(flagged).toEqual(samples);
    expect(wronglyFlagged).toEqual([]);
  });

  it('has no tracked file that points at the outside notes', () => {
    // Prepare
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 })
      .split('\0')
      .filter((f) => f !== '');
    // Act
    const pointers = pointersIn(files);
    // Assess
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('test/unit/standalone.test.ts');
    expect(pointers, `state the fact instead of pointing at outside notes:\n${pointers.join('\n')}`).toEqual([]);
  });
});
