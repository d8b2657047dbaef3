import { ProtocolError } from '../errors.js';
import { isToken, parseList } from '../http/grammar.js';

/**
 * The client's `Upgrade` field, RFC 9110 §7.8:
 *   Upgrade = #protocol ; protocol = protocol-name ["/" protocol-version] ; both are tokens.
 * Offers are kept in the client's order (its preference); names compare case-insensitively.
 */
export interface UpgradeOffer {
  /** As sent, e.g. `WebSocket` or `TLS/1.0`. */
  readonly token: string;
  readonly name: string;
  readonly version: string | undefined;
}

export function parseUpgradeOffers(values: readonly string[]): UpgradeOffer[] | ProtocolError {
  const offers: UpgradeOffer[] = [];
  for (const value of values) {
    for (const token of parseList(value)) {
      const slash = token.indexOf('/');
      const name = slash === -1 ? token : token.slice(0, slash);
      const version = slash === -1 ? undefined : token.slice(slash + 1);
      if (!isToken(name) || (version !== undefined && !isToken(version))) {
        return new ProtocolError('ERR_BAD_UPGRADE', `malformed Upgrade protocol "${token}"`, { status: 400 });
      }
      offers.push({ token, name, version });
    }
  }
  return offers;
}

/** Canonical lookup key: `name` or `name/version`, lower-cased. */
export function tokenKey(token: string): string {
  return token.toLowerCase();
}
