import { UsageError } from '../errors.js';
import type { ProtocolHandler } from './plugin.js';
import { tokenKey, type UpgradeOffer } from './upgrade-offers.js';

export interface RegistryEntry {
  readonly token: string;
  readonly description: string;
}

/**
 * Upgrade tokens → handlers. Knows no protocol by name and does no I/O; the accept loop asks it which
 * handlers match the client's offers, in the client's order. A handler registered as `name/version`
 * matches only that version; one registered as a bare `name` matches the name with any version or none
 * (it may decline a version it does not speak).
 */
export class Registry {
  #handlers = new Map<string, ProtocolHandler<any>>();
  #listeners = new Set<(change: 'register' | 'unregister', token: string) => void>();

  register(handler: ProtocolHandler<any>): this {
    const key = tokenKey(handler.token);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/.test(handler.token)) {
      throw new UsageError('ERR_BAD_TOKEN', `"${handler.token}" is not an Upgrade token (name or name/version)`);
    }
    if (this.#handlers.has(key)) {
      throw new UsageError('ERR_DUPLICATE_TOKEN', `a handler for "${handler.token}" is already registered`);
    }
    this.#handlers.set(key, handler);
    for (const listener of this.#listeners) listener('register', handler.token);
    return this;
  }

  /** Removes the handler and calls its `close` hook; connections it already owns keep running. */
  async unregister(token: string): Promise<boolean> {
    const key = tokenKey(token);
    const handler = this.#handlers.get(key);
    if (!handler) return false;
    this.#handlers.delete(key);
    for (const listener of this.#listeners) listener('unregister', handler.token);
    await handler.close?.();
    return true;
  }

  /**
   * Put `handler` where the one registered as `previous` (default: the same token) was, in one step, for
   * the next requests; returns the handler it replaced (or undefined: then this is a register). Unlike
   * `unregister`, the replaced handler's `close` is not called: connections it already owns keep running
   * with it (a plugin reloaded by `serve --watch`). A token held by another handler is refused.
   */
  replace(handler: ProtocolHandler<any>, previous: string = handler.token): ProtocolHandler<any> | undefined {
    const key = tokenKey(handler.token);
    const previousKey = tokenKey(previous);
    const old = this.#handlers.get(previousKey);
    if (old === undefined) { this.register(handler); return undefined; }
    if (key !== previousKey && this.#handlers.has(key)) {
      throw new UsageError('ERR_DUPLICATE_TOKEN', `a handler for "${handler.token}" is already registered`);
    }
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/.test(handler.token)) {
      throw new UsageError('ERR_BAD_TOKEN', `"${handler.token}" is not an Upgrade token (name or name/version)`);
    }
    // The same token keeps its place in list() (a Map keeps a key's first position when it is set again).
    if (key !== previousKey) this.#handlers.delete(previousKey);
    this.#handlers.set(key, handler);
    if (key !== previousKey) for (const listener of this.#listeners) listener('unregister', old.token);
    for (const listener of this.#listeners) listener('register', handler.token);
    return old;
  }

  get(token: string): ProtocolHandler<any> | undefined {
    return this.#handlers.get(tokenKey(token));
  }

  has(token: string): boolean { return this.#handlers.has(tokenKey(token)); }

  list(): RegistryEntry[] {
    return [...this.#handlers.values()].map((h) => ({ token: h.token, description: h.description ?? '' }));
  }

  /** Handlers for the client's offers, in the client's order; offers nobody handles are skipped. */
  resolve(offers: readonly UpgradeOffer[]): Array<{ offer: UpgradeOffer; handler: ProtocolHandler<any> }> {
    const matches: Array<{ offer: UpgradeOffer; handler: ProtocolHandler<any> }> = [];
    for (const offer of offers) {
      const handler = this.#handlers.get(tokenKey(offer.token)) ?? this.#handlers.get(tokenKey(offer.name));
      if (handler && !matches.some((m) => m.handler === handler)) matches.push({ offer, handler });
    }
    return matches;
  }

  onChange(listener: (change: 'register' | 'unregister', token: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#handlers.values()].map(async (h) => h.close?.()));
  }
}
