import type { ConnectionRecord } from '../accept-loop/connection-table.js';
import type { Field, RequestHead } from '../http/request-head.js';

export interface HttpRequest {
  readonly head: RequestHead;
  /** The request content, read in full (bounded by `limits.bodyBytes`). */
  readonly body: Uint8Array;
  readonly connection: ConnectionRecord;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: readonly Field[];
  readonly body?: string | Uint8Array;
}

export type RouteHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export type RouteMatch =
  | { readonly kind: 'handler'; readonly handler: RouteHandler }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'upgrade-required'; readonly tokens: readonly string[] };

interface Route {
  readonly handlers: Map<string, RouteHandler>;
  upgradeTokens: string[];
}

/**
 * Exact-path routes for plain HTTP. A path may also be marked upgrade-only: a plain request there gets
 * `426 Upgrade Required` naming the tokens it accepts (RFC 9110 §15.5.22), which is how a "pure
 * WebSocket server" answers a browser that just types the URL. HEAD is served wherever GET is (RFC 9110
 * §9.3.2), with the body left off by the connection.
 */
export class Router {
  #routes = new Map<string, Route>();
  /** GET routes for a family of paths (`/_lab/connections/ID/bytes`), tried only when no exact path matches. */
  #patterns: Array<{ readonly pattern: RegExp; readonly handler: RouteHandler }> = [];

  add(methods: string | readonly string[], path: string, handler: RouteHandler): this {
    const route = this.#route(path);
    for (const method of typeof methods === 'string' ? [methods] : methods) route.handlers.set(method.toUpperCase(), handler);
    return this;
  }

  get(path: string, handler: RouteHandler): this { return this.add('GET', path, handler); }

  /** GET (and HEAD) on any path `pattern` matches; the handler reads what it needs from `head.path`. */
  getMatching(pattern: RegExp, handler: RouteHandler): this {
    this.#patterns.push({ pattern, handler });
    return this;
  }

  /** Plain requests to `path` are answered 426 with `Upgrade: <tokens>`. */
  requireUpgrade(path: string, tokens: readonly string[]): this {
    const route = this.#route(path);
    for (const token of tokens) if (!route.upgradeTokens.includes(token)) route.upgradeTokens.push(token);
    return this;
  }

  remove(path: string): boolean { return this.#routes.delete(path); }

  paths(): string[] { return [...this.#routes.keys()]; }

  match(method: string, path: string): RouteMatch {
    const route = this.#routes.get(path);
    if (!route) return this.#matchPattern(method, path);
    const handler = route.handlers.get(method) ?? (method === 'HEAD' ? route.handlers.get('GET') : undefined);
    if (handler) return { kind: 'handler', handler };
    if (route.upgradeTokens.length > 0 && route.handlers.size === 0) return { kind: 'upgrade-required', tokens: route.upgradeTokens };
    return { kind: 'method-not-allowed', allow: this.allowed(path) };
  }

  #matchPattern(method: string, path: string): RouteMatch {
    const found = this.#patterns.find((entry) => entry.pattern.test(path));
    if (found === undefined) return { kind: 'not-found' };
    if (method === 'GET' || method === 'HEAD') return { kind: 'handler', handler: found.handler };
    return { kind: 'method-not-allowed', allow: ['GET', 'HEAD', 'OPTIONS'] };
  }

  allowed(path: string): string[] {
    const route = this.#routes.get(path);
    if (!route) return this.#patterns.some((entry) => entry.pattern.test(path)) ? ['GET', 'HEAD', 'OPTIONS'] : [];
    const allow = new Set(route.handlers.keys());
    if (allow.has('GET')) allow.add('HEAD');
    allow.add('OPTIONS');
    return [...allow];
  }

  #route(path: string): Route {
    let route = this.#routes.get(path);
    if (!route) {
      route = { handlers: new Map(), upgradeTokens: [] };
      this.#routes.set(path, route);
    }
    return route;
  }
}
