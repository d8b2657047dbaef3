import type { SwitchyardServer } from '../../src/server/server.js';
import { startLab, type LabOptions } from '../../src/lab.js';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';

/** Start a lab on 127.0.0.1:0, record its events, and stop it after the test. */
export async function withLab<T>(options: LabOptions, body: (server: SwitchyardServer, events: LabEvent[]) => Promise<T>): Promise<T> {
  const server = await startLab({ host: '127.0.0.1', port: 0, ...options });
  const events: LabEvent[] = [];
  server.events.subscribe((event) => events.push(event));
  try {
    return await body(server, events);
  } finally {
    await server.close();
  }
}

export async function eventually(predicate: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
