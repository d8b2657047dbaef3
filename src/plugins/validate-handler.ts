import { isToken } from '../http/grammar.js';
import type { ProtocolHandler } from '../registry/plugin.js';

/**
 * What is wrong with a value offered as a ProtocolHandler, as sentences for the person who wrote it;
 * empty when it is one. Checked when a plugin is loaded, so a mistake is a clear message at start-up
 * rather than a 500 at the first client.
 */
export function handlerProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`it is ${describe(value)}, not an object with "token" and "takeover"`];
  }
  const handler = value as Record<string, unknown>;
  const problems: string[] = [];
  const token = handler['token'];
  if (typeof token !== 'string') problems.push(`"token" is ${describe(token)}; expected a string such as "my-protocol/1"`);
  else if (!isUpgradeToken(token)) problems.push(`"token" ${JSON.stringify(token)} is not an Upgrade token: name or name/version, letters, digits and !#$%&'*+-.^_\`|~ only (RFC 9110 §7.8)`);
  if (typeof handler['takeover'] !== 'function') problems.push(`"takeover" is ${describe(handler['takeover'])}; expected a function (ctx) => void | Promise<void>`);
  for (const hook of ['handshake', 'close'] as const) {
    if (handler[hook] !== undefined && typeof handler[hook] !== 'function') problems.push(`"${hook}" is ${describe(handler[hook])}; expected a function or nothing`);
  }
  if (handler['description'] !== undefined && typeof handler['description'] !== 'string') {
    problems.push(`"description" is ${describe(handler['description'])}; expected a string or nothing`);
  }
  return problems;
}

export const isProtocolHandler = (value: unknown): value is ProtocolHandler<any> => handlerProblems(value).length === 0;

/** RFC 9110 §7.8: protocol-name ["/" protocol-version], both tokens. */
function isUpgradeToken(text: string): boolean {
  const slash = text.indexOf('/');
  return slash === -1 ? isToken(text) : isToken(text.slice(0, slash)) && isToken(text.slice(slash + 1));
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${JSON.stringify(value)})`;
}
