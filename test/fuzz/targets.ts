/** Every fuzz target by name: what `runIsolated` workers and `npm run fuzz -- --target NAME` look up. */
import type { FuzzTarget } from './engine.js';
import { httpTarget } from './http-target.js';
import { frameDecoderTarget, webSocketProtocolTarget } from './websocket-targets.js';

export const TARGETS: Readonly<Record<string, FuzzTarget<any>>> = {
  [httpTarget.name]: httpTarget,
  [frameDecoderTarget.name]: frameDecoderTarget,
  [webSocketProtocolTarget.name]: webSocketProtocolTarget,
};

/** URL of this module, for `runIsolated({ targetsUrl })`. */
export const TARGETS_URL = import.meta.url;
