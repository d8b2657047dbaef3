/**
 * What the server sends in `lab-chat/1` (docs/protocols.md), one LF-terminated UTF-8 line each:
 *
 *   hello <you> <others>      first line after the 101: your name in the room, how many others are there
 *   msg <from> <text>         a message from another member (WebSocket `/chat` members included)
 *   error <reason> <text>     you broke a rule or fell behind; the server closes after this line
 *   bye <text>                the server is shutting down; it closes after this line
 *
 * Pure functions, no I/O. A message can come from a WebSocket member, whose text may hold line breaks
 * or control characters: it goes out as one `msg` line per line of text, and other C0 controls (and
 * DEL) become U+FFFD, so no peer can inject a fake `msg` line or drive the reader's terminal.
 */
import { LineErrorCode } from './line-decoder.js';

export const TOKEN = 'lab-chat/1';

/** The `<reason>` word of an `error` line. */
export const ErrorReason = {
  LineTooLong: 'line-too-long',
  NotUtf8: 'not-utf8',
  LineTimeout: 'line-timeout',
  TooSlow: 'too-slow',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

export function reasonFor(code: string): ErrorReason {
  return code === LineErrorCode.TooLong ? ErrorReason.LineTooLong : ErrorReason.NotUtf8;
}

export const encodeHello = (you: string, others: number): string => `hello ${you} ${others}\n`;

export function encodeMessage(from: string, text: string): string {
  let out = '';
  for (const line of text.split(/\r\n|\r|\n/)) out += `msg ${from} ${clean(line)}\n`;
  return out;
}

export const encodeError = (reason: ErrorReason, text: string): string => `error ${reason} ${clean(text)}\n`;

export const encodeBye = (text: string): string => `bye ${clean(text)}\n`;

/** C0 controls other than TAB, and DEL, replaced by U+FFFD (line breaks were split off already). */
const clean = (text: string): string => text.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '\ufffd');
