import { acceptQueue } from './accept-queue.js';
import { bytes } from './bytes.js';
import { deflate } from './deflate.js';
import { earlyBytes } from './early-bytes.js';
import type { Experiment } from './experiment.js';
import { oneConnection } from './one-connection.js';
import { otherProtocol } from './other-protocol.js';
import { pureWebSocket } from './pure-websocket.js';
import { secondClient } from './second-client.js';
import { sharePort } from './share-port.js';
import { tlsSamePort } from './tls-same-port.js';
import { workers } from './workers.js';

/** Every experiment, in the order the guide tells the story (docs/guide.md). */
export const EXPERIMENTS: readonly Experiment[] = [sharePort, earlyBytes, secondClient, acceptQueue, pureWebSocket, otherProtocol, tlsSamePort, oneConnection, deflate, workers, bytes];

export function findExperiment(name: string): Experiment | undefined {
  return EXPERIMENTS.find((experiment) => experiment.name === name);
}

export type { Experiment } from './experiment.js';
export { Report } from './report.js';
