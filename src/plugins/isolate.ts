/**
 * The accept loop already contains a plugin's failures that happen *in* its calls: a throw or rejection
 * in `handshake` costs the request a 500, one in `takeover` (or its promise) costs only the connection.
 * What it cannot see is a throw inside a listener the plugin attached to its socket — `socket.on('data',
 * ...)` runs later, from the event loop, outside any promise, and in Node an exception there is uncaught:
 * the whole process, every other client with it, would go down.
 *
 * `isolate(handler)` closes that gap for the socket the plugin was given: every listener added to
 * `ctx.socket` during the takeover is wrapped so that a throw ends that connection (traced with its
 * 5-tuple) instead of the process. `removeListener` still works with the functions the plugin passed.
 * Plugins loaded from files (`--plugin`) are isolated automatically; library users can wrap their own.
 * Listeners on emitters the plugin creates itself, and its timers, remain its own to guard.
 */
import type { EventEmitter } from 'node:events';
import type { ProtocolHandler } from '../registry/plugin.js';

type Listener = (...args: unknown[]) => unknown;

export function isolate<State>(handler: ProtocolHandler<State>): ProtocolHandler<State> {
  const isolated: ProtocolHandler<State> = {
    token: handler.token,
    takeover(ctx) {
      guardListeners(ctx.socket, (error) => {
        const message = error instanceof Error ? error.message : String(error);
        ctx.emit({ kind: 'error', detail: `a ${handler.token} listener threw: ${message}; closing this connection only` });
        ctx.socket.destroy();
      });
      return handler.takeover(ctx);
    },
  };
  return Object.assign(isolated,
    handler.description === undefined ? {} : { description: handler.description },
    handler.managesSocket === undefined ? {} : { managesSocket: handler.managesSocket },
    handler.handshake ? { handshake: handler.handshake.bind(handler) } : {},
    handler.close ? { close: handler.close.bind(handler) } : {});
}

/** Wrap, on this one emitter, every listener added from now on; `once` and friends go through `on`. */
function guardListeners(emitter: EventEmitter, onThrow: (error: unknown) => void): void {
  const guards = new WeakMap<Listener, Listener>();
  const target = emitter as unknown as Record<string, (event: string | symbol, listener: Listener) => unknown>;
  for (const method of ['on', 'addListener', 'prependListener'] as const) {
    const original = target[method]!;
    target[method] = function (this: unknown, event: string | symbol, listener: Listener) {
      const guarded = function (this: unknown, ...args: unknown[]): unknown {
        try {
          return listener.apply(this, args);
        } catch (error) {
          onThrow(error);
          return undefined;
        }
      };
      // EventEmitter finds a listener by itself or by `.listener` (what `once` wrappers carry).
      (guarded as Listener & { listener?: Listener }).listener = (listener as Listener & { listener?: Listener }).listener ?? listener;
      guards.set(listener, guarded);
      return original.call(this, event, guarded);
    };
  }
  for (const method of ['off', 'removeListener'] as const) {
    const original = target[method]!;
    target[method] = function (this: unknown, event: string | symbol, listener: Listener) {
      return original.call(this, event, guards.get(listener) ?? listener);
    };
  }
}
