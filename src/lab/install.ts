import type { ChatRoom } from '../protocols/chat/room.js';
import type { WebSocketEndpoint } from '../protocols/websocket/plugin.js';
import type { HttpResponse } from '../server/router.js';
import type { SwitchyardServer } from '../server/server.js';
import { DASHBOARD_CSP, renderDashboard } from './dashboard-page.js';
import { EventFeed } from './event-feed.js';
import { type ConnectionRow, identityOf } from './feed-messages.js';

/** A dashboard and its feed are idle most of the time; a ping every 30 s finds a vanished one. */
const FEED_PING_INTERVAL_MS = 30_000;

/**
 * The lab's own pages, on the same port as everything else. Called once the server is listening:
 *
 *   GET /             the dashboard (dashboard-page.ts)
 *   GET /_lab/whoami  JSON: the 5-tuple of the connection that asked — `curl` it twice and compare ports
 */
export function installLab(server: SwitchyardServer, _room: ChatRoom): void {
  server.router.get('/', ({ connection }) => ({
    status: 200,
    headers: [
      ['Content-Type', 'text/html; charset=utf-8'],
      ['Cache-Control', 'no-store'],
      ['Content-Security-Policy', DASHBOARD_CSP],
      ['X-Content-Type-Options', 'nosniff'],
      ['Referrer-Policy', 'no-referrer'],
    ],
    body: renderDashboard({ page: identityOf(connection), server: { address: server.host, port: server.port } }),
  }));
  server.router.get('/_lab/whoami', ({ connection }) => json(identityOf(connection)));
}

/** WebSocket endpoints the lab adds besides /echo and /chat: `/_lab/events`, the dashboard's live feed. */
export function labEndpoints(getServer: () => SwitchyardServer, room?: ChatRoom, otherRows?: () => readonly ConnectionRow[]): Record<string, WebSocketEndpoint> {
  const feed = new EventFeed(getServer, {}, () => room?.brokerStatus(), otherRows);
  return {
    '/_lab/events': {
      pingIntervalMs: FEED_PING_INTERVAL_MS,
      onConnection: (ws, ctx) => feed.join(ws, ctx),
    },
  };
}

function json(value: unknown): HttpResponse {
  return {
    status: 200,
    headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store']],
    body: JSON.stringify(value, null, 2) + '\n',
  };
}
