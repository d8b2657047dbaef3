/**
 * The UTF-8 payloads of Autobahn 6.5-6.23, by category, from Markus Kuhn's "UTF-8 decoder capability and
 * stress test" (sections 1-5) as Autobahn groups them. Each entry is hex and whether it is valid UTF-8
 * (RFC 3629: no overlongs, no surrogates D800-DFFF, nothing past U+10FFFF, no truncated sequence).
 * Non-characters such as U+FFFE are valid UTF-8: RFC 6455 §8.1 asks for UTF-8, not for assigned characters.
 */
export interface Utf8Case {
  readonly hex: string;
  readonly valid: boolean;
}

export interface Utf8Category {
  /** Autobahn's sub-section, e.g. '6.5'. */
  readonly section: string;
  readonly title: string;
  readonly cases: readonly Utf8Case[];
}

const ok = (...hex: string[]): Utf8Case[] => hex.map((h) => ({ hex: h, valid: true }));
const bad = (...hex: string[]): Utf8Case[] => hex.map((h) => ({ hex: h, valid: false }));
const asHex = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

/** κόσμε, the Greek word Markus Kuhn's file opens with: characters of 2 and 3 bytes. */
export const KOSME = 'cebae1bdb9cf83cebcceb5';
/** Byte offsets where a character of KOSME ends. */
const KOSME_BOUNDARIES = new Set([2, 5, 7, 9, 11]);

/** Every byte in [from, to) followed by a space: lonely start bytes (Kuhn 3.2). */
function lonely(from: number, to: number): string {
  let hex = '';
  for (let byte = from; byte < to; byte++) hex += byte.toString(16).padStart(2, '0') + '20';
  return hex;
}

const missingLast = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'];

/** Non-characters U+nFFFE and U+nFFFF for planes 1-16, as 4-byte sequences (plane 0's are 3 bytes). */
function planeNonCharacters(): string[] {
  const out: string[] = [];
  for (const lead of ['f0', 'f1', 'f2', 'f3', 'f4']) {
    for (const second of ['8f', '9f', 'af', 'bf']) {
      if (lead === 'f4' && second !== '8f') continue; // past U+10FFFF
      if (lead === 'f0' && second === '8f') continue; // overlong
      for (const last of ['be', 'bf']) out.push(`${lead}${second}bf${last}`);
    }
  }
  return out;
}

export const UTF8_CATEGORIES: readonly Utf8Category[] = [
  { section: '6.5', title: 'some valid UTF-8 sequences', cases: ok(asHex('hello$world'), '68656c6c6fc2a2776f726c64', '68656c6c6fe282ac776f726c64', '68656c6c6ff0a4ada2776f726c64', KOSME) },
  {
    section: '6.6', title: 'every prefix of a string with multi-byte characters',
    cases: Array.from({ length: 11 }, (_, i) => ({ hex: KOSME.slice(0, 2 * (i + 1)), valid: KOSME_BOUNDARIES.has(i + 1) })),
  },
  { section: '6.7', title: 'first possible sequence of each length', cases: ok('00', 'c280', 'e0a080', 'f0908080') },
  { section: '6.8', title: 'first possible 5- and 6-byte sequences (not UTF-8)', cases: bad('f888808080', 'fc8480808080') },
  { section: '6.9', title: 'last possible sequence of each length', cases: ok('7f', 'dfbf', 'efbfbf', 'f48fbfbf') },
  { section: '6.10', title: 'last possible 4-, 5- and 6-byte patterns (past U+10FFFF)', cases: bad('f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf') },
  { section: '6.11', title: 'other boundary conditions', cases: [...ok('ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf'), ...bad('f4908080')] },
  {
    section: '6.12', title: 'unexpected continuation bytes',
    cases: bad('80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf', Array.from({ length: 0x3f }, (_, i) => (0x80 + i).toString(16)).join('')),
  },
  { section: '6.13', title: 'lonely start bytes', cases: bad(lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd)) },
  { section: '6.14', title: 'sequences with the last continuation byte missing', cases: bad(...missingLast) },
  { section: '6.15', title: 'concatenation of incomplete sequences', cases: bad(missingLast.join('')) },
  { section: '6.16', title: 'impossible bytes', cases: bad('fe', 'ff', 'fefeffff') },
  { section: '6.17', title: 'overlong ASCII "/"', cases: bad('c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af') },
  { section: '6.18', title: 'maximum overlong sequences', cases: bad('c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf') },
  { section: '6.19', title: 'overlong NUL', cases: bad('c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080') },
  { section: '6.20', title: 'single UTF-16 surrogates', cases: bad('eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf') },
  {
    section: '6.21', title: 'paired UTF-16 surrogates',
    cases: bad('eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'),
  },
  { section: '6.22', title: 'non-characters (valid UTF-8)', cases: ok('efbfbe', 'efbfbf', ...planeNonCharacters()) },
  { section: '6.23', title: 'Unicode specials, the replacement character among them', cases: ok('efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf') },
];
