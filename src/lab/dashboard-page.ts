/**
 * The dashboard, `GET /`: one self-contained page (no external assets, no framework) that shows the
 * connection table, the registered protocols, a timeline of loop events and a chat panel, all fed over
 * WebSockets on the very port that served the page.
 *
 * The lesson it makes visible: the page reaches the server over several TCP connections — the HTML over
 * plain HTTP, the live feed and the chat over WebSockets that began as HTTP requests — and every one of
 * them has the same server port and a different client port. A browser cannot read its own client port,
 * so the page learns each one from the server: the HTML's connection is written into the page when it is
 * served, the feed's arrives in its `hello`, and the chat socket is found by a random tag in its request
 * target (`/chat?lab=…`), which the feed reports in the `request` event.
 *
 * A click on a row (or Enter on its # button) opens the byte view: that connection's first bytes each way,
 * fetched from `GET /_lab/connections/ID/bytes`: the request head and the 101 with every CR LF shown, each
 * WebSocket frame field by field as in RFC 6455 §5.2's diagram, and a hex dump for everything else.
 *
 * Inline script and style are pinned by their SHA-256 in the Content-Security-Policy; everything the
 * server or a peer says (targets, chat text, error messages) reaches the DOM as text, never as markup.
 */
import { createHash } from 'node:crypto';
import type { SelfIdentity } from './feed-messages.js';

const STYLE = `
:root { --bg: #f4f5f7; --panel: #fff; --ink: #1d2330; --muted: #5d6675; --line: #dde1e7; --accent: #0b6e6e;
  --page: #1f5fbf; --feed: #7a3fb0; --chat: #1f8a4c; --mine: #fff7d9; --warn: #a15c00; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
code, .mono, td.tuple, #timeline { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 12px 20px; background: #14202e; color: #e8edf3; }
header h1 { margin: 0; font-size: 20px; letter-spacing: .02em; }
header h1 span { font-weight: 400; color: #8fb3c9; }
header p { margin: 0; color: #b9c6d3; }
.pill { margin-left: auto; padding: 2px 10px; border-radius: 999px; font-size: 12px; background: #5d6675; color: #fff; }
.pill.live { background: #1f8a4c; } .pill.connecting, .pill.reconnecting { background: var(--warn); }
h2 { margin: 0 0 8px; font-size: 15px; }
h2 small { font-weight: 400; color: var(--muted); }
section, aside > section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
#lesson { margin: 14px 20px 0; border-left: 5px solid var(--accent); }
#mine { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 8px; }
#mine li { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
#mine li .what { display: block; color: var(--muted); font-size: 12.5px; }
#mine li .ports { display: block; margin-top: 2px; }
#mine li.gone { opacity: .55; }
#lesson-line { margin: 10px 0 0; font-size: 15px; }
#lesson-line b { color: var(--accent); }
main { display: grid; grid-template-columns: minmax(0, 1fr) 320px; gap: 14px; padding: 14px 20px; }
#timeline-panel { grid-column: 1 / -1; }
aside { display: flex; flex-direction: column; gap: 14px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
th.server, td.server { background: #f1f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.req { max-width: 30ch; overflow: hidden; text-overflow: ellipsis; color: var(--muted); }
.port { font-weight: 700; }
td.server .port { color: var(--accent); }
td.client .port { color: #b0361f; }
tr.self { background: var(--mine); }
tr.state-closed { opacity: .5; }
tr.stream td { border-bottom-style: dashed; font-size: 12.5px; }
tr.stream td.sid { text-align: right; color: var(--muted); }
tr.stream.stream-closed { opacity: .5; }
.h2 { display: inline-block; padding: 0 5px; border-radius: 4px; background: #0b6e6e; color: #fff; font-size: 11.5px; font-weight: 600; }
.ev-stream .type, .ev-settings .type { color: #0b6e6e; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11.5px; color: #fff; white-space: nowrap; }
.badge.page { background: var(--page); } .badge.feed { background: var(--feed); } .badge.chat { background: var(--chat); }
.state { font-size: 12px; padding: 0 6px; border-radius: 4px; background: #e7eaee; }
.state.tls { background: #efe0fb; } .transport.tls { color: #6a2c91; font-weight: 600; } .transport small.how { font-weight: normal; color: #555; display: block; } small.ext { color: #555; display: block; }
.state.http, .state.http2 { background: #dbe8fb; } .state.switching { background: #fde7c2; } .state.upgraded { background: #d5f0de; }
.scroll { overflow: auto; max-height: 46vh; }
#protocols { margin: 0; padding-left: 18px; }
#protocols li { margin-bottom: 4px; }
#protocols .desc { color: var(--muted); }
#chat-status { margin: 0 0 6px; color: var(--muted); font-size: 12.5px; }
.broker { margin: 0 0 6px; font-size: 12.5px; } .broker.down { color: #a40000; font-weight: 600; }
#chat-log { list-style: none; margin: 0 0 8px; padding: 6px; height: 220px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; background: #fafbfc; }
#chat-log li { margin-bottom: 3px; word-wrap: break-word; }
#chat-log .from { font-weight: 600; margin-right: 6px; }
#chat-log li.own .from { color: var(--chat); }
#chat-form { display: flex; gap: 6px; }
#chat-form input { flex: 1; padding: 5px 8px; border: 1px solid var(--line); border-radius: 5px; font: inherit; }
#chat-form button { padding: 5px 12px; border: 0; border-radius: 5px; background: var(--accent); color: #fff; font: inherit; cursor: pointer; }
.timeline-head { display: flex; align-items: baseline; gap: 16px; }
.timeline-head label { color: var(--muted); font-size: 12.5px; }
#timeline { list-style: none; margin: 0; padding: 0; max-height: 40vh; overflow: auto; }
#timeline li { padding: 1px 4px; border-bottom: 1px solid #f0f1f3; white-space: pre-wrap; word-break: break-all; }
#timeline li.mine { background: var(--mine); }
#timeline li.note { color: var(--warn); font-style: italic; }
#timeline.hide-frames li.frame { display: none; }
#timeline .t { color: var(--muted); }
#timeline .type { display: inline-block; min-width: 7.5ch; font-weight: 700; }
.ev-accept .type, .ev-close .type { color: #0b6e6e; } .ev-request .type, .ev-response .type { color: var(--page); }
.ev-upgrade .type { color: var(--chat); } .ev-protocol .type { color: var(--feed); } .ev-error .type, .ev-refuse .type { color: #b0361f; }
#conn-rows tr[data-id], #conn-rows tr.stream { cursor: pointer; }
#conn-rows tr[data-id]:hover { background: #eef3f8; }
#conn-rows tr.selected { outline: 2px solid var(--accent); outline-offset: -2px; }
button.open-bytes { padding: 0 4px; border: 1px solid var(--line); border-radius: 4px; background: #fff; color: var(--accent); font: inherit; font-weight: 600; cursor: pointer; }
button.open-bytes:focus-visible, #bytes-panel button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
#bytes-panel { grid-column: 1 / -1; }
#bytes-panel[hidden] { display: none; }
#bytes-panel:focus:not(:focus-visible) { outline: none; }
.bytes-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.bytes-head h2 { margin-right: auto; }
.bytes-head button { padding: 3px 10px; border: 1px solid var(--line); border-radius: 5px; background: #fff; font: inherit; cursor: pointer; }
#bytes-status { margin: 4px 0 8px; color: var(--muted); }
#bytes-status.error { color: #a40000; font-weight: 600; }
#bytes-body h3 { margin: 14px 0 6px; font-size: 14px; }
#bytes-body h3 small { font-weight: 400; color: var(--muted); }
#bytes-body pre { margin: 0 0 8px; padding: 8px 10px; background: #fafbfc; border: 1px solid var(--line); border-radius: 6px; overflow: auto; max-height: 50vh;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; white-space: pre; }
#bytes-body .eol, #bytes-body .ctl { color: #b0361f; font-weight: 600; }
.totals { margin: 0; padding-left: 18px; }
.heads { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 10px; }
ol.frames { list-style: none; margin: 0; padding: 0; }
ol.frames > li { margin: 0 0 12px; padding: 8px 10px; border: 1px solid var(--line); border-left: 5px solid var(--page); border-radius: 6px; }
ol.frames > li.dir-out { border-left-color: var(--chat); }
ol.frames h4 { margin: 0 0 6px; font-size: 13.5px; }
ol.frames h4 small { font-weight: 400; color: var(--muted); }
table.fields { width: auto; margin-bottom: 8px; }
table.fields td, table.fields th { white-space: normal; }
table.fields td.value { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; font-weight: 600; word-break: break-all; max-width: 70ch; }
table.fields td.bits { color: var(--muted); font-size: 12px; }
table.fields td.meaning { color: var(--muted); font-size: 12.5px; }
table.fields tr.unused td { opacity: .6; }
button.more-frames { padding: 4px 12px; border: 1px solid var(--line); border-radius: 5px; background: #fff; font: inherit; cursor: pointer; }
button.more-frames[hidden] { display: none; }
details.dump summary { cursor: pointer; color: var(--muted); margin: 8px 0 4px; }
footer { margin: 0 20px 20px; padding: 12px 14px; border: 1px dashed #b8c0cb; border-radius: 8px; color: #3d4552; background: #fbfbfc; }
footer h2 { font-size: 14px; }
footer p { margin: 6px 0; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

// Plain ES2017 without template literals: this text sits inside a TypeScript template string.
const SCRIPT = String.raw`
'use strict';
(function () {
  var MAX_TIMELINE = 300, MAX_CHAT = 200, CLOSED_LINGER_MS = 10000;
  var data = JSON.parse(document.getElementById('lab-data').textContent);
  var chatTag = Math.random().toString(36).slice(2, 10);
  var lab = window.switchyardLab = {
    page: data.page, feed: null, chat: null, server: data.server,
    rows: new Map(), closed: new Map(), requests: new Map(), total: 0, protocols: [],
    clockOffset: 0, feedState: 'connecting', chatState: 'waiting for the live feed'
  };
  // Requests made before the feed was listening, known all the same.
  if (lab.page) lab.requests.set(lab.page.id, 'GET /');
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // The page's WebSocket URLs come from its own address: ws: or wss:, same host and port, same path prefix,
  // so the page keeps working behind a reverse proxy that forwards the Upgrade.
  function wsUrl(relative) {
    var url = new URL(relative, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  function splitTuple(tuple) {
    var parts = String(tuple || '').split(' ');
    return { transport: parts[0] || '?', local: endpoint(parts[1]), remote: endpoint(parts[2]) };
  }
  function endpoint(text) {
    text = text || '?:?';
    var colon = text.lastIndexOf(':');
    return { host: text.slice(0, colon), port: text.slice(colon + 1) };
  }
  function endpointNode(ep) {
    var span = el('span', 'mono');
    span.appendChild(document.createTextNode(ep.host + ':'));
    span.appendChild(el('span', 'port', ep.port));
    return span;
  }
  function whose(tuple) {
    if (lab.page && lab.page.fiveTuple === tuple) return 'page';
    if (lab.feed && lab.feed.fiveTuple === tuple) return 'feed';
    if (lab.chat && lab.chat.fiveTuple === tuple) return 'chat';
    return '';
  }
  var BADGES = { page: 'HTML', feed: 'live feed', chat: 'chat' };
  function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }
  function clock(time) {
    var d = new Date(time);
    return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function serverNow() { return Date.now() + lab.clockOffset; }

  // ---- the model: a snapshot replaces the table; events keep it current in between ----
  function fromSnapshot(row, time) {
    return { id: row.id, fiveTuple: row.fiveTuple, state: row.state, protocol: row.protocol, requests: row.requests,
      bytesIn: row.bytesIn, bytesOut: row.bytesOut, acceptedAt: time - row.ageMs, closedAt: null,
      transport: row.transport || 'tcp', firstByte: row.firstByte || null, tls: row.tls || null, extensions: row.extensions || null, worker: row.worker || null,
      proxied: row.proxied || null, forwarded: row.forwarded || null,
      http: row.http || '1.1', streams: (row.streams || []).map(function (s) {
        return { id: s.id, method: s.method, path: s.path, protocol: s.protocol, extensions: s.extensions || null, state: s.state, status: s.status,
          bytesIn: s.bytesIn, bytesOut: s.bytesOut, closeReason: s.closeReason || null };
      }), streamsOpened: row.streamsOpened || 0, settings: row.settings || null };
  }
  function applySnapshot(msg) {
    lab.clockOffset = msg.time - Date.now();
    lab.rows = new Map();
    msg.connections.forEach(function (row) { lab.rows.set(row.id, fromSnapshot(row, msg.time)); lab.closed.delete(row.id); });
    lab.total = msg.total;
    lab.protocols = msg.protocols;
    lab.broker = msg.broker || null;
    render();
  }
  function applyEvent(e) {
    var row = e.id === undefined ? undefined : lab.rows.get(e.id);
    switch (e.type) {
      case 'accept':
        lab.rows.set(e.id, { id: e.id, fiveTuple: e.fiveTuple, state: 'accepted', protocol: null, requests: 0,
          bytesIn: 0, bytesOut: 0, acceptedAt: e.time, closedAt: null, transport: 'tcp', firstByte: null, tls: null,
          http: '1.1', streams: [], streamsOpened: 0, settings: null });
        break;
      case 'sniff':
        if (row) {
          row.firstByte = '0x' + e.firstByte.toString(16).padStart(2, '0');
          if (e.decided === 'tls') row.transport = 'tls';
        }
        break;
      case 'tls':
        // The snapshot a second later carries the details; the event says at once that it is encrypted now.
        if (row && e.phase === 'established') row.tls = row.tls || { version: e.detail.split(' ')[0] };
        break;
      case 'request':
        lab.requests.set(e.id, e.method + ' ' + e.target + (e.upgrade ? '  (Upgrade: ' + e.upgrade + ')' : ''));
        if (row) { row.requests += 1; if (row.state === 'accepted') row.state = 'http'; }
        // Over HTTP/2 the stream's open event (just before) already named the chat's stream: keep that.
        if (e.target.indexOf('lab=' + chatTag) !== -1 && !(lab.chat && lab.chat.id === e.id && lab.chat.stream !== undefined)) lab.chat = { id: e.id, fiveTuple: e.fiveTuple };
        break;
      case 'state':
        if (row) { row.state = e.to; if (e.to === 'http2') row.http = '2'; }
        break;
      case 'stream':
        // HTTP/2: streams are the conversations of one connection; the next snapshot brings their bytes.
        if (row) {
          row.http = '2';
          var known = findStream(row, e.stream);
          if (e.phase === 'open' && !known) {
            var what = parseStreamDetail(e.detail);
            row.streams.push({ id: e.stream, method: what.method, path: what.path, protocol: null, state: 'open', status: null, bytesIn: 0, bytesOut: 0, closeReason: null });
            row.streamsOpened += 1;
          } else if (e.phase === 'close' && known) {
            known.state = 'closed'; known.closeReason = e.detail;
          }
        }
        if (e.phase === 'open' && e.detail.indexOf('lab=' + chatTag) !== -1) lab.chat = { id: e.id, fiveTuple: e.fiveTuple, stream: e.stream };
        break;
      case 'settings':
        if (row) { row.settings = row.settings || { server: null, client: null }; row.settings[e.side] = e.settings; }
        break;
      case 'upgrade':
        // Applied once: after a reconnect the snapshot may already show this upgrade.
        if (row && e.stream !== undefined) {
          var up = findStream(row, e.stream);
          if (up) { up.protocol = e.protocol; up.state = 'upgraded'; up.status = 200; }
        } else if (row && row.state !== 'upgraded') { row.state = 'upgraded'; row.protocol = row.protocol ? row.protocol + ' > ' + e.protocol : e.protocol; }
        break;
      case 'close':
        if (row) {
          row.state = 'closed'; row.bytesIn = e.bytesIn; row.bytesOut = e.bytesOut; row.closedAt = e.time;
          row.closeReason = 'closed by ' + e.closedBy + ': ' + e.reason;
          lab.rows.delete(e.id);
          lab.closed.set(e.id, { row: row, until: Date.now() + CLOSED_LINGER_MS });
        }
        break;
    }
  }

  function findStream(row, id) {
    for (var i = 0; i < (row.streams || []).length; i++) if (row.streams[i].id === id) return row.streams[i];
    return null;
  }
  function parseStreamDetail(detail) {
    var parts = String(detail || '').split(' ');
    return { method: parts[0] || '?', path: parts[1] || '?' };
  }
  // Which of this page's own conversations a stream of an HTTP/2 connection is.
  function whoseStream(row, stream) {
    if (lab.feed && lab.feed.stream === stream.id && lab.feed.fiveTuple === row.fiveTuple) return 'feed';
    if (lab.chat && lab.chat.stream === stream.id && lab.chat.fiveTuple === row.fiveTuple) return 'chat';
    if (String(stream.path).indexOf('lab=' + chatTag) !== -1 && whose(row.fiveTuple)) return 'chat';
    return '';
  }

  // ---- rendering ----
  var renderTimer = 0;
  function render() {
    if (renderTimer) return;
    renderTimer = setTimeout(function () { renderTimer = 0; renderAll(); }, 30);
  }
  function renderAll() {
    var now = Date.now();
    lab.closed.forEach(function (entry, id) { if (entry.until < now) lab.closed.delete(id); });
    renderStatus(); renderLesson(); renderTable(); renderProtocols(); markTimeline();
  }
  // A connection is known to be the chat's only from its request, after its accept was listed: re-mark.
  function markTimeline() {
    var items = $('timeline').querySelectorAll('li[data-tuple]');
    for (var i = 0; i < items.length; i++) items[i].classList.toggle('mine', !!whose(items[i].dataset.tuple));
  }
  function renderStatus() {
    var pill = $('feed-status');
    pill.className = 'pill ' + lab.feedState;
    pill.textContent = lab.feedState === 'live' ? 'live' : lab.feedState + '…';
    if (lab.server) $('listening').textContent = 'listening on ' + lab.server.address + ':' + lab.server.port +
      ' — one passive socket; every accept() returns a new connected one';
    var me = lab.chat ? splitTuple(lab.chat.fiveTuple).remote : null;
    $('chat-status').textContent = lab.chatState + (me && lab.chatState === 'open' ? ' as ' + me.host + ':' + me.port : '');
    var broker = $('broker-status');
    broker.hidden = !lab.broker;
    if (lab.broker) {
      var b = lab.broker;
      broker.className = b.connected ? 'broker up' : 'broker down';
      broker.textContent = 'room spans instances via ' + b.kind + ' (' + b.target + '): ' + (b.connected ? 'connected' : 'DOWN, local delivery only' + (b.lastError ? ': ' + b.lastError : '')) +
        ' · published ' + b.published + ', received ' + b.received + ', dropped ' + b.dropped;
    }
  }
  function findRow(tuple) {
    var found = null;
    lab.rows.forEach(function (row) { if (row.fiveTuple === tuple) found = row; });
    if (!found) lab.closed.forEach(function (entry) { if (entry.row.fiveTuple === tuple) found = entry.row; });
    return found;
  }
  function renderLesson() {
    var list = $('mine');
    var items = [
      ['page', 'the HTML you are reading', lab.page && lab.page.http === '2' ? 'HTTP/2: GET / on one stream' : 'plain HTTP/1.1: GET /', lab.page],
      ['feed', 'live feed', lab.feed && lab.feed.stream !== undefined ? 'WebSocket on /_lab/events, stream ' + lab.feed.stream + ' after CONNECT :protocol websocket (RFC 8441)' : 'WebSocket on /_lab/events, after 101 Switching Protocols', lab.feed],
      ['chat', 'chat', lab.chat && lab.chat.stream !== undefined ? 'WebSocket on /chat, stream ' + lab.chat.stream + ' after CONNECT :protocol websocket (RFC 8441)' : 'WebSocket on /chat, after 101 Switching Protocols', lab.chat]
    ];
    var frag = document.createDocumentFragment();
    var serverPorts = [], clientPorts = [];
    items.forEach(function (item) {
      var li = el('li');
      li.dataset.self = item[0];
      li.appendChild(el('span', 'badge ' + item[0], item[1]));
      li.appendChild(el('span', 'what', item[2]));
      var ports = el('span', 'ports');
      if (item[3]) {
        var t = splitTuple(item[3].fiveTuple);
        var row = findRow(item[3].fiveTuple);
        ports.appendChild(document.createTextNode('client '));
        ports.appendChild(endpointNode(t.remote));
        ports.appendChild(document.createTextNode(' → server '));
        ports.appendChild(endpointNode(t.local));
        if (row && row.state === 'closed') { li.className = 'gone'; ports.appendChild(document.createTextNode('  (' + row.closeReason + ')')); }
        else if (!row && lab.feedState === 'live') { li.className = 'gone'; ports.appendChild(document.createTextNode('  (no longer in the table)')); }
        else { serverPorts.push(t.local.port); if (clientPorts.indexOf(t.remote.port) === -1) clientPorts.push(t.remote.port); }
        if (item[3].stream !== undefined) ports.appendChild(document.createTextNode('  stream ' + item[3].stream));
      } else {
        ports.textContent = item[0] === 'page' ? 'unknown' : 'not connected yet';
      }
      li.appendChild(ports);
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
    var line = $('lesson-line');
    line.replaceChildren();
    if (clientPorts.length >= 2) {
      line.appendChild(document.createTextNode('Same server port '));
      line.appendChild(el('b', '', serverPorts.filter(function (p, i) { return serverPorts.indexOf(p) === i; }).join(', ')));
      line.appendChild(document.createTextNode(', different client ports '));
      line.appendChild(el('b', '', clientPorts.join(', ')));
      line.appendChild(document.createTextNode(': the kernel tells these connections apart by the whole 5-tuple, so one listening port serves them all.'));
    } else if (clientPorts.length === 1 && lab.page && lab.page.http === '2' && lab.feed && lab.feed.stream !== undefined) {
      line.appendChild(document.createTextNode('One TCP connection, client port '));
      line.appendChild(el('b', '', clientPorts[0]));
      line.appendChild(document.createTextNode(': over HTTP/2 the page and its WebSockets are streams of the same 5-tuple, told apart by stream id.'));
    } else {
      line.textContent = 'Waiting for this page\u2019s connections to show up in the table…';
    }
  }
  function cell(tr, className, content) {
    var td = el('td', className);
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  }
  function renderTable() {
    var now = serverNow();
    var list = Array.from(lab.rows.values());
    lab.closed.forEach(function (entry) { list.push(entry.row); });
    list.sort(function (a, b) { return a.id - b.id; });
    var frag = document.createDocumentFragment();
    list.forEach(function (row) {
      var tr = el('tr', 'state-' + row.state);
      tr.dataset.id = row.id;
      var mine = whose(row.fiveTuple);
      if (mine) { tr.dataset.self = mine; tr.classList.add('self'); }
      var t = splitTuple(row.fiveTuple);
      // The row opens its bytes on a click; the button in it is the same action for the keyboard.
      var open = el('button', 'open-bytes', '#' + row.id);
      open.type = 'button';
      open.dataset.id = row.id;
      open.title = 'show the bytes of connection #' + row.id;
      open.setAttribute('aria-controls', 'bytes-panel');
      open.setAttribute('aria-expanded', String(bytesView.id === row.id));
      if (bytesView.id === row.id) tr.classList.add('selected');
      cell(tr, 'num', open);
      cell(tr, '', mine ? el('span', 'badge ' + mine, BADGES[mine]) : '');
      cell(tr, '', el('span', 'state ' + row.state, row.state));
      if (row.http === '2') {
        var proto = cell(tr, '', el('span', 'h2', 'h2'));
        proto.appendChild(document.createTextNode(' ' + row.streamsOpened + ' stream' + (row.streamsOpened === 1 ? '' : 's')));
      } else {
        extensionsNote(cell(tr, 'proto', row.protocol || '—'), row.extensions);
      }
      var transport = cell(tr, 'tuple transport', row.transport === 'tls' ? 'tls' : t.transport);
      if (row.transport === 'tls') transport.classList.add('tls');
      var how = [];
      if (row.firstByte) how.push('first byte ' + row.firstByte + ' decided ' + (row.transport || 'tcp'));
      if (row.tls) {
        if (row.tls.version) how.push(row.tls.version + (row.tls.cipher ? ' ' + row.tls.cipher : ''));
        if (row.tls.alpn) how.push('ALPN ' + row.tls.alpn);
        if (row.tls.sni) how.push('SNI ' + row.tls.sni);
      }
      if (row.http === '2') how.push('h2' + (row.transport === 'tls' ? '' : ' (prior knowledge)'));
      if (row.worker) how.push('worker ' + row.worker);
      if (row.proxied) how.push('via PROXY v' + row.proxied.version + (row.proxied.local ? ' (LOCAL: the real connection)' : '') + ', hop ' + row.proxied.hop.replace(/^tcp /, ''));
      if (row.forwarded) how.push(row.forwarded.field + ': for ' + row.forwarded.for);
      if (how.length) transport.appendChild(el('small', 'how', ' ' + how.join(' · ')));
      transport.title = how.join('\n');
      cell(tr, 'tuple server', endpointNode(t.local));
      cell(tr, 'tuple client', endpointNode(t.remote));
      cell(tr, 'num', bytes(row.bytesIn));
      cell(tr, 'num', bytes(row.bytesOut));
      cell(tr, 'num', age((row.closedAt || now) - row.acceptedAt));
      var req = cell(tr, 'req', row.state === 'closed' ? row.closeReason : (lab.requests.get(row.id) || ''));
      req.title = req.textContent;
      frag.appendChild(tr);
      if (row.http === '2') (row.streams || []).forEach(function (s) { frag.appendChild(streamRow(row, s)); });
    });
    // The table is rebuilt every second: keep the keyboard's place on the same connection's button.
    var focused = document.activeElement && document.activeElement.classList.contains('open-bytes') ? document.activeElement.dataset.id : null;
    $('conn-rows').replaceChildren(frag);
    if (focused !== null) {
      var again = $('conn-rows').querySelector('button.open-bytes[data-id="' + focused + '"]');
      if (again) again.focus();
    }
    $('conn-count').textContent = '(' + lab.rows.size + ' live' + (lab.total > lab.rows.size ? ', newest ' + lab.rows.size + ' of ' + lab.total + ' shown' : '') + ')';
  }
  // What the upgraded protocol agreed on top, e.g. WebSocket's permessage-deflate and its windows.
  function extensionsNote(td, extensions) {
    if (!extensions) return;
    var short = extensions.replace('permessage-deflate', 'deflate').replace(/server_max_window_bits=(\d+)/, 'server 2^$1')
      .replace(/client_max_window_bits=(\d+)/, 'client 2^$1').replace(/_no_context_takeover/g, ' resets').replace(/; /g, ', ');
    td.appendChild(el('small', 'ext', short));
    td.title = extensions;
  }
  // One HTTP/2 stream, nested under its connection's row: same 5-tuple, its own request and protocol.
  function streamRow(row, s) {
    var tr = el('tr', 'stream stream-' + s.state);
    tr.dataset.connection = row.id;
    tr.dataset.stream = s.id;
    var mine = whoseStream(row, s);
    if (mine) { tr.dataset.self = mine; tr.classList.add('self'); }
    cell(tr, 'num sid', '\u21b3 ' + s.id);
    cell(tr, '', mine ? el('span', 'badge ' + mine, BADGES[mine]) : '');
    cell(tr, '', el('span', 'state ' + s.state, s.state));
    extensionsNote(cell(tr, 'sproto', s.protocol || '—'), s.extensions);
    var target = cell(tr, 'req spath', s.method + ' ' + s.path + (s.status ? '  \u2192 ' + s.status : ''));
    target.colSpan = 3;
    target.title = target.textContent;
    cell(tr, 'num', bytes(s.bytesIn));
    cell(tr, 'num', bytes(s.bytesOut));
    cell(tr, '', '');
    var why = cell(tr, 'req', s.state === 'closed' ? (s.closeReason || 'closed') : 'stream ' + s.id + ' of #' + row.id);
    why.title = why.textContent;
    return tr;
  }
  function renderProtocols() {
    var frag = document.createDocumentFragment();
    lab.protocols.forEach(function (p) {
      var li = el('li');
      li.appendChild(el('code', '', p.token));
      if (p.description) li.appendChild(el('span', 'desc', ' — ' + p.description));
      frag.appendChild(li);
    });
    $('protocols').replaceChildren(frag);
  }

  // ---- the byte view: one connection's bytes as they crossed the wire, from GET /_lab/connections/ID/bytes ----
  var bytesView = { id: null, seq: 0 }, FRAMES_PER_PAGE = 50;
  var DIRECTION = { 'in': 'client \u2192 server', out: 'server \u2192 client' };
  var LENGTH_FORMS = {
    '7-bit': 'the 7-bit field is the length itself (0\u2013125)',
    '7+16-bit': '126: the length is in the 16-bit extended field',
    '7+64-bit': '127: the length is in the 64-bit extended field'
  };
  function setBytesStatus(text, isError) {
    var status = $('bytes-status');
    status.textContent = text;
    status.className = isError ? 'error' : '';
  }
  function openBytes(id) {
    id = Number(id);
    var seq = ++bytesView.seq;
    bytesView.id = id;
    var panel = $('bytes-panel');
    panel.hidden = false;
    $('bytes-what').textContent = 'connection #' + id;
    setBytesStatus('loading GET /_lab/connections/' + id + '/bytes\u2026', false);
    $('bytes-body').replaceChildren();
    render();
    panel.focus({ preventScroll: true });
    panel.scrollIntoView({ block: 'nearest' });
    fetch(new URL('_lab/connections/' + id + '/bytes', location.href).href, { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try { parsed = JSON.parse(text); } catch (error) { /* not JSON: shown as text */ }
          return { status: response.status, ok: response.ok, body: parsed, text: text };
        });
      })
      .then(function (answer) {
        if (seq !== bytesView.seq) return; // another row was opened (or the panel closed) meanwhile
        if (!answer.ok) {
          var why = answer.body && answer.body.error ? answer.body.error : answer.text.slice(0, 300);
          setBytesStatus('#' + id + ': ' + answer.status + ' ' + why, true);
          return;
        }
        if (!answer.body) { setBytesStatus('#' + id + ': the answer was not JSON', true); return; }
        setBytesStatus('as of ' + clock(Date.now()) + ' (reload for what crossed since)', false);
        renderBytes(answer.body);
      }, function (error) {
        if (seq !== bytesView.seq) return;
        setBytesStatus('#' + id + ': could not fetch its bytes: ' + error.message, true);
      });
  }
  function closeBytes() {
    var id = bytesView.id;
    bytesView.id = null;
    bytesView.seq++;
    $('bytes-panel').hidden = true;
    $('bytes-body').replaceChildren();
    renderAll();
    var button = $('conn-rows').querySelector('button.open-bytes[data-id="' + id + '"]');
    if (button) button.focus();
  }
  lab.openBytes = openBytes;
  lab.closeBytes = closeBytes;

  // Text as received, each line end shown as the bytes it is (\r\n, or a lone \r or \n), other control bytes escaped.
  function visibleText(parent, text) {
    var plain = '';
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0x20 && c !== 0x7f) { plain += text[i]; continue; }
      if (plain) { parent.appendChild(document.createTextNode(plain)); plain = ''; }
      var ctl = el('span', 'ctl', c === 9 ? '\\t' : '\\x' + (c < 16 ? '0' : '') + c.toString(16));
      ctl.title = 'byte 0x' + (c < 16 ? '0' : '') + c.toString(16);
      parent.appendChild(ctl);
    }
    if (plain) parent.appendChild(document.createTextNode(plain));
  }
  function headBlock(title, direction, text, field) {
    var box = el('div', 'head-block');
    var h = el('h3', '', title + ' ');
    h.appendChild(el('small', '', direction + (text === null || text === undefined ? '' : ', ' + text.length + ' bytes')));
    box.appendChild(h);
    var pre = el('pre', 'head');
    pre.dataset.field = field;
    if (text === null || text === undefined) {
      pre.textContent = field === 'request' ? '(no request head received yet)' : '(no response head sent yet)';
      pre.classList.add('none');
    } else {
      var re = /\r\n|\r|\n/g, last = 0, match;
      while ((match = re.exec(text))) {
        visibleText(pre, text.slice(last, match.index));
        var eol = el('span', 'eol', match[0] === '\r\n' ? '\\r\\n' : match[0] === '\r' ? '\\r' : '\\n');
        eol.title = match[0] === '\r\n' ? 'CR LF: bytes 0d 0a' + (match.index === last && last > 0 ? ', the empty line that ends the head' : '') : 'a bare ' + (match[0] === '\r' ? 'CR (0d)' : 'LF (0a)');
        pre.appendChild(eol);
        pre.appendChild(document.createTextNode('\n'));
        last = re.lastIndex;
      }
      if (last < text.length) visibleText(pre, text.slice(last));
    }
    box.appendChild(pre);
    return box;
  }
  function bit(value) { return value ? '1' : '0'; }
  function fieldRow(table, field, name, bits, value, raw, meaning) {
    var tr = el('tr');
    tr.appendChild(el('th', '', name));
    tr.appendChild(el('td', 'bits', bits));
    var td = el('td', 'value', value);
    td.dataset.field = field;
    td.dataset.value = raw === null || raw === undefined ? '' : String(raw);
    tr.appendChild(td);
    tr.appendChild(el('td', 'meaning', meaning || ''));
    table.appendChild(tr);
    return tr;
  }
  function frameItem(f, index) {
    var li = el('li', 'frame dir-' + f.direction);
    li.dataset.direction = f.direction;
    li.dataset.index = index;
    li.dataset.opcode = f.opcodeName;
    var heading = el('h4', '', (index + 1) + '. ' + (DIRECTION[f.direction] || f.direction) + '  ' + f.opcodeName + ', ' +
      f.payloadLength + ' byte' + (f.payloadLength === 1 ? '' : 's') + ' of payload ');
    heading.appendChild(el('small', '', (f.at ? clock(f.at) + ' \u00b7 ' : '') + 'byte ' + f.offset + ' of the ' + (f.direction === 'in' ? 'client\u2019s' : 'server\u2019s') +
      ' stream \u00b7 header ' + f.headerBytes + ' bytes' + (f.complete ? '' : ' \u00b7 incomplete: the kept bytes end inside this frame')));
    li.appendChild(heading);

    var table = el('table', 'fields');
    var head = el('tr');
    ['field', 'bits', 'value', 'meaning'].forEach(function (name) { head.appendChild(el('th', '', name)); });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var rows = el('tbody');
    var compressed = !!f.rsv1;
    fieldRow(rows, 'fin', 'FIN', '1', bit(f.fin), bit(f.fin), f.fin ? 'the final fragment of its message' : 'more fragments follow in continuation frames');
    fieldRow(rows, 'rsv1', 'RSV1', '1', bit(f.rsv1), bit(f.rsv1), compressed ? 'set: this message is compressed (permessage-deflate, RFC 7692)' : 'reserved for extensions');
    fieldRow(rows, 'rsv2', 'RSV2', '1', bit(f.rsv2), bit(f.rsv2), 'reserved');
    fieldRow(rows, 'rsv3', 'RSV3', '1', bit(f.rsv3), bit(f.rsv3), 'reserved');
    var op = Number(f.opcode);
    fieldRow(rows, 'opcode', 'opcode', '4', '0x' + op.toString(16) + ' (' + op.toString(2).padStart(4, '0') + ') ' + f.opcodeName, op,
      op >= 8 ? 'a control frame' : op === 0 ? 'continues the message before' : 'begins a message');
    fieldRow(rows, 'mask', 'MASK', '1', bit(f.masked), bit(f.masked), f.masked ? 'the payload is masked (every client\u2192server frame must be)' : 'not masked (server\u2192client frames never are)');
    fieldRow(rows, 'payload-len', 'Payload len', '7', String(f.lengthField), f.lengthField, (LENGTH_FORMS[f.lengthForm] || f.lengthForm) + ' \u2014 ' + f.lengthForm + ' form')
      .querySelector('td.value').dataset.form = f.lengthForm;
    var extended = f.lengthForm === '7+16-bit' ? '16' : f.lengthForm === '7+64-bit' ? '64' : '';
    var ext = fieldRow(rows, 'extended-length', 'Extended payload length', extended || '0', extended ? String(f.payloadLength) : '\u2014', extended ? f.payloadLength : null,
      extended ? 'the payload length, ' + extended + '-bit unsigned, network byte order' : 'not present: the 7-bit field said it all');
    if (!extended) ext.className = 'unused';
    var key = fieldRow(rows, 'masking-key', 'Masking-key', f.masked ? '32' : '0', f.maskingKey || '\u2014', f.maskingKey,
      f.maskingKey ? 'payload byte i is XORed with key byte i mod 4' : 'not present: MASK is 0');
    if (!f.maskingKey) key.className = 'unused';
    var shown = f.shownBytes < f.payloadLength ? ' (first ' + f.shownBytes + ' of ' + f.payloadLength + ' bytes)' : '';
    var masked = fieldRow(rows, 'masked-payload', 'Payload, masked', f.payloadLength * 8 + '', f.maskedHex || '\u2014', f.maskedHex,
      f.maskedHex ? 'as it crossed the wire' + shown : 'not masked: the bytes below are the wire bytes');
    if (!f.maskedHex) masked.className = 'unused';
    fieldRow(rows, 'payload', f.masked ? 'Payload, unmasked' : 'Payload', f.payloadLength * 8 + '', f.payloadHex || '(empty)', f.payloadHex,
      (f.masked ? 'after XOR with the masking key' : 'as it crossed the wire') + shown);
    var text = fieldRow(rows, 'text', 'as text', '', f.text === null || f.text === undefined ? '\u2014' : f.text, f.text,
      f.text === null || f.text === undefined ? (compressed ? 'compressed: DEFLATE bytes, not text until inflated' : 'not shown as text') : 'UTF-8' + shown);
    if (f.text === null || f.text === undefined) text.className = 'unused';
    if (f.closeCode !== null && f.closeCode !== undefined) {
      fieldRow(rows, 'close-code', 'close code', '16', String(f.closeCode), f.closeCode, 'the first two payload bytes');
      fieldRow(rows, 'close-reason', 'close reason', '', f.closeReason || '(none)', f.closeReason, 'the rest of the payload, UTF-8');
    }
    table.appendChild(rows);
    li.appendChild(table);
    if (f.diagram) {
      var diagram = el('pre', 'diagram', f.diagram);
      diagram.dataset.field = 'diagram';
      li.appendChild(diagram);
    }
    return li;
  }
  // hexdump -C style: offset, 16 bytes in hex (two groups of 8), the printable ASCII beside them.
  function hexDump(base64) {
    var bin = atob(base64 || '');
    var lines = [];
    for (var offset = 0; offset < bin.length; offset += 16) {
      var hex = '', ascii = '';
      for (var i = 0; i < 16; i++) {
        if (i === 8) hex += ' ';
        if (offset + i < bin.length) {
          var c = bin.charCodeAt(offset + i);
          hex += (c < 16 ? '0' : '') + c.toString(16) + ' ';
          ascii += c >= 0x20 && c < 0x7f ? bin[offset + i] : '.';
        } else {
          hex += '   ';
        }
      }
      lines.push(offset.toString(16).padStart(8, '0') + '  ' + hex + ' |' + ascii + '|');
    }
    return lines.length ? lines.join('\n') : '(no bytes)';
  }
  function dumpBlock(b, side, open) {
    var details = el('details', 'dump');
    details.open = open;
    var data = b[side] || { totalBytes: 0, keptBytes: 0, base64: '' };
    details.appendChild(el('summary', '', 'hex dump, ' + DIRECTION[side] + ': ' + data.keptBytes + ' bytes'));
    var pre = el('pre', 'hexdump', hexDump(data.base64));
    pre.dataset.field = 'dump-' + side;
    details.appendChild(pre);
    return details;
  }
  function renderBytes(b) {
    $('bytes-what').textContent = '#' + b.id + ' \u00b7 ' + b.fiveTuple + ' \u00b7 ' + b.transport + (b.protocol ? ' \u00b7 ' + b.protocol : '');
    var frag = document.createDocumentFragment();
    var totals = el('ul', 'totals');
    ['in', 'out'].forEach(function (side) {
      var data = b[side] || { totalBytes: 0, keptBytes: 0 };
      var li = el('li', '', DIRECTION[side] + ': kept ' + data.keptBytes + ' of ' + data.totalBytes + ' bytes' +
        (data.keptBytes < data.totalBytes && !b.notes ? ' (only the first ' + b.limitBytes + ' of each direction are kept)' : ''));
      li.dataset.field = 'total-' + side;
      totals.appendChild(li);
    });
    // Only the server knows why some bytes are missing (HTTP/2 read natively, the limit): its notes, as text.
    (b.notes || []).forEach(function (text) { totals.appendChild(el('li', 'note', text)); });
    if (b.transport === 'tls') totals.appendChild(el('li', 'note', 'TLS: these are the bytes inside the encryption, as the lab read and wrote them'));
    frag.appendChild(totals);
    var heads = el('div', 'heads');
    heads.appendChild(headBlock('Request head', DIRECTION['in'], b.request, 'request'));
    heads.appendChild(headBlock('Response head', DIRECTION.out, b.response, 'response'));
    frag.appendChild(heads);
    if (b.frames) {
      var h = el('h3', '', 'Frames ');
      h.appendChild(el('small', '', b.frames.length + ', in time order, laid out as in RFC 6455 \u00a75.2'));
      frag.appendChild(h);
      var list = el('ol', 'frames');
      list.id = 'bytes-frames';
      if (!b.frames.length) list.appendChild(el('li', 'none', 'no frames yet'));
      frag.appendChild(list);
      // A busy connection keeps hundreds of frames in its first bytes: lay them out a page at a time.
      var more = el('button', 'more-frames');
      more.type = 'button';
      var shown = 0;
      var showMore = function () {
        var end = Math.min(b.frames.length, shown + FRAMES_PER_PAGE);
        for (; shown < end; shown++) list.appendChild(frameItem(b.frames[shown], shown));
        more.hidden = shown >= b.frames.length;
        more.textContent = 'show ' + Math.min(FRAMES_PER_PAGE, b.frames.length - shown) + ' more frames (' + (b.frames.length - shown) + ' not shown yet)';
      };
      more.addEventListener('click', showMore);
      showMore();
      frag.appendChild(more);
    }
    frag.appendChild(dumpBlock(b, 'in', !b.frames));
    frag.appendChild(dumpBlock(b, 'out', !b.frames));
    $('bytes-body').replaceChildren(frag);
  }
  $('conn-rows').addEventListener('click', function (event) {
    var tr = event.target.closest('tr');
    if (!tr) return;
    var id = tr.dataset.id !== undefined ? tr.dataset.id : tr.dataset.connection;
    if (id === undefined) return;
    // Dragging across a row to copy its text is not a click on it.
    if (event.target.tagName !== 'BUTTON' && String(window.getSelection()) !== '') return;
    openBytes(id);
  });
  $('bytes-close').addEventListener('click', closeBytes);
  $('bytes-reload').addEventListener('click', function () { if (bytesView.id !== null) openBytes(bytesView.id); });
  $('bytes-panel').addEventListener('keydown', function (event) { if (event.key === 'Escape') closeBytes(); });

  // ---- the timeline ----
  function describe(e) {
    switch (e.type) {
      case 'listen': return 'listening on ' + e.address + ':' + e.port;
      case 'accept': return 'accept() returned a new socket (live ' + e.live + ')';
      case 'refuse': return 'refused: ' + e.reason;
      case 'request': return e.method + ' ' + e.target + ' HTTP/' + e.version + (e.upgrade ? '   Upgrade: ' + e.upgrade : '');
      case 'response': return e.status + ' (' + e.bytes + ' B body)';
      case 'upgrade': return '101 Switching Protocols → ' + e.protocol + (e.headBytes ? ' (' + e.headBytes + ' B came with the request)' : '');
      case 'stream': return 'stream ' + e.stream + ' ' + e.phase + ' ' + e.detail;
      case 'settings': return e.side + ' SETTINGS ' + e.settings;
      case 'protocol': return (e.stream === undefined ? '' : 'stream ' + e.stream + ' ') + e.protocol + ' ' + (e.direction === 'out' ? '→' : e.direction === 'in' ? '←' : '·') + ' ' + e.kind + ' ' + e.detail;
      case 'state': return e.from + ' → ' + e.to;
      case 'sniff': return 'first byte 0x' + e.firstByte.toString(16).padStart(2, '0') + ' → ' + e.decided + (e.reason ? ' (' + e.reason + ')' : '');
      case 'tls': return 'TLS ' + e.phase + ': ' + e.detail;
      case 'close': return 'closed by ' + e.closedBy + ': ' + e.reason + ' (in ' + bytes(e.bytesIn) + ', out ' + bytes(e.bytesOut) + ')';
      case 'error': return e.code + ': ' + e.message;
      case 'shutdown': return e.phase + ' (live ' + e.live + ')';
      default: return JSON.stringify(e);
    }
  }
  function timelineEntry(e) {
    var li = el('li', 'ev ev-' + e.type + (e.type === 'protocol' ? ' frame' : ''));
    if (e.fiveTuple) { li.dataset.tuple = e.fiveTuple; if (whose(e.fiveTuple)) li.classList.add('mine'); }
    li.appendChild(el('span', 't', clock(e.time) + '  '));
    li.appendChild(el('span', 'type', e.type));
    if (e.id !== undefined) {
      var who = el('span', 'who', ' #' + e.id + ' :' + splitTuple(e.fiveTuple).remote.port + (e.stream !== undefined ? ' s' + e.stream : '') + '  ');
      who.title = e.fiveTuple;
      li.appendChild(who);
    } else {
      li.appendChild(document.createTextNode('  '));
    }
    li.appendChild(document.createTextNode(describe(e)));
    return li;
  }
  function addToTimeline(nodes) {
    var list = $('timeline');
    var atTop = list.scrollTop < 8;
    var frag = document.createDocumentFragment();
    for (var i = nodes.length - 1; i >= 0; i--) frag.appendChild(nodes[i]);
    list.insertBefore(frag, list.firstChild);
    while (list.childElementCount > MAX_TIMELINE) list.removeChild(list.lastChild);
    if (atTop) list.scrollTop = 0;
  }
  function note(text) {
    var li = el('li', 'note', clock(Date.now()) + '  ' + text);
    addToTimeline([li]);
  }

  // ---- the live feed ----
  var feedRetries = 0;
  function connectFeed() {
    lab.feedState = feedRetries ? 'reconnecting' : 'connecting';
    render();
    var ws = new WebSocket(wsUrl('_lab/events'));
    ws.onmessage = function (message) {
      var msg;
      try { msg = JSON.parse(message.data); } catch (error) { return; }
      if (msg.type === 'hello') {
        feedRetries = 0;
        lab.feed = msg.self; lab.server = msg.server; lab.feedState = 'live';
        if (msg.self.stream === undefined) lab.requests.set(msg.self.id, 'GET /_lab/events  (Upgrade: websocket)');
        lab.clockOffset = msg.time - Date.now();
        if (!chat) connectChat();
        render();
      } else if (msg.type === 'snapshot') {
        applySnapshot(msg);
      } else if (msg.type === 'events') {
        msg.events.forEach(applyEvent);
        addToTimeline(msg.events.map(timelineEntry));
        render();
      } else if (msg.type === 'gap') {
        note(msg.dropped + ' events skipped: this page read the feed too slowly, so the server dropped them instead of buffering without bound. The table below is fresh again.');
      }
    };
    ws.onclose = function (event) {
      lab.feed = null;
      var delay = Math.min(10000, 500 * Math.pow(2, feedRetries++));
      lab.feedState = 'reconnecting';
      note('live feed closed (code ' + event.code + (event.reason ? ', ' + event.reason : '') + '); reconnecting in ' + (delay / 1000) + ' s');
      render();
      setTimeout(connectFeed, delay);
    };
  }

  // ---- chat on /chat ----
  var chat = null, chatRetries = 0;
  function connectChat() {
    lab.chatState = 'connecting';
    var ws = chat = new WebSocket(wsUrl('chat?lab=' + chatTag), ['superchat']);
    ws.onopen = function () { chatRetries = 0; lab.chatState = 'open'; render(); };
    ws.onmessage = function (message) {
      var from = 'someone', text = message.data;
      if (ws.protocol === 'superchat') {
        try { var parsed = JSON.parse(message.data); from = parsed.from; text = parsed.text; } catch (error) { /* shown as sent */ }
      }
      addChat(from, text, false);
    };
    ws.onclose = function (event) {
      lab.chat = null;
      var delay = Math.min(10000, 500 * Math.pow(2, chatRetries++));
      lab.chatState = 'closed (code ' + event.code + '), reconnecting in ' + (delay / 1000) + ' s';
      render();
      setTimeout(connectChat, delay);
    };
  }
  function addChat(from, text, own) {
    var log = $('chat-log');
    var li = el('li', own ? 'own' : '');
    li.appendChild(el('span', 'from', from));
    li.appendChild(el('span', 'text', text));
    log.appendChild(li);
    while (log.childElementCount > MAX_CHAT) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }
  $('chat-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var input = $('chat-input');
    var text = input.value.trim();
    if (!text || !chat || chat.readyState !== WebSocket.OPEN) return;
    chat.send(text);
    addChat('you', text, true);
    input.value = '';
  });
  $('show-frames').addEventListener('change', function (event) {
    $('timeline').classList.toggle('hide-frames', !event.target.checked);
  });

  setInterval(render, 1000);
  render();
  connectFeed();
})();
`;

const BODY = `
<header>
  <h1>switchyard <span>lab</span></h1>
  <p id="listening">one TCP port: plain HTTP/1.1 and every Upgrade protocol</p>
  <span id="feed-status" class="pill connecting">connecting…</span>
</header>
<section id="lesson" aria-labelledby="lesson-title">
  <h2 id="lesson-title">This page's own connections</h2>
  <ol id="mine"></ol>
  <p id="lesson-line"></p>
</section>
<main>
  <section id="connections-panel">
    <h2>Connections <small id="conn-count"></small> <small>· click a row (or its #) to see its bytes</small></h2>
    <div class="scroll">
      <table id="connections">
        <thead><tr>
          <th>#</th><th>this page's</th><th>state</th><th>protocol</th><th>transport</th>
          <th class="server">server (local)</th><th>client (remote)</th>
          <th>in</th><th>out</th><th>age</th><th>last request / close</th>
        </tr></thead>
        <tbody id="conn-rows"></tbody>
      </table>
    </div>
  </section>
  <aside>
    <section id="protocols-panel">
      <h2>Registered protocols <small>Upgrade tokens</small></h2>
      <ul id="protocols"></ul>
    </section>
    <section id="chat-panel">
      <h2>Chat <small>WebSocket /chat, subprotocol superchat</small></h2>
      <p id="chat-status"></p>
      <p id="broker-status" hidden></p>
      <ol id="chat-log"></ol>
      <form id="chat-form" autocomplete="off">
        <input id="chat-input" maxlength="2000" placeholder="say something to every other page" aria-label="chat message">
        <button type="submit">Send</button>
      </form>
    </section>
  </aside>
  <section id="bytes-panel" hidden aria-labelledby="bytes-title" tabindex="-1">
    <div class="bytes-head">
      <h2 id="bytes-title">Bytes <small id="bytes-what"></small></h2>
      <button type="button" id="bytes-reload">reload</button>
      <button type="button" id="bytes-close" aria-label="close the byte view">close ✕</button>
    </div>
    <p id="bytes-status" role="status"></p>
    <div id="bytes-body"></div>
  </section>
  <section id="timeline-panel">
    <div class="timeline-head">
      <h2>Timeline <small>newest first: accept → request → 101 → frames → close</small></h2>
      <label><input type="checkbox" id="show-frames" checked> show frames</label>
    </div>
    <ol id="timeline"></ol>
  </section>
</main>
<footer id="legend">
  <h2>How to read this</h2>
  <p><b>5-tuple</b> = transport, server address:port, client address:port (the columns of <code>ss -tn</code>).
  The kernel keeps one passive listening socket on the server port; every <code>accept()</code> returns a new
  connected socket, and no two live connections share a 5-tuple.</p>
  <p><b>Same server port, different client ports.</b> Every row has the server port from your address bar.
  What tells the rows apart is the client port, which the client's kernel picks for each new connection.
  A WebSocket is an HTTP connection whose request asked to switch: after <code>101 Switching Protocols</code>
  it keeps its 5-tuple and carries frames instead of HTTP. Highlighted rows are this page's own connections.</p>
  <p><b>tcp or tls.</b> When the server has a certificate, TLS and cleartext share this one port: the server reads the
  first byte of each new connection before any protocol runs. <code>0x16</code> begins a TLS handshake record, so
  TLS reads the rest (its ClientHello, still in clear text, names the host (SNI) and the protocols offered (ALPN));
  a letter begins an HTTP request line. The transport column shows what each connection chose.</p>
  <p><b>HTTP/2.</b> With TLS the browser may agree on <code>h2</code> by ALPN: then one connection (one row) carries
  many streams, listed under it: the page's GET and, when the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL,
  WebSockets opened by an extended CONNECT (RFC 8441) with <code>:protocol websocket</code> and answered 200, not 101.</p>
  <p><b>Compression.</b> A WebSocket row may say <code>deflate</code>: browsers offer permessage-deflate (RFC 7692) on every
  connection and the lab accepts it, so messages whose first frame has RSV1 set are DEFLATE-compressed, each side
  with an LZ77 window of at most 2^bits bytes. The bytes columns count what crossed the wire, compressed.</p>
  <p><b>Behind a proxy.</b> A proxy in front hides the client: every connection comes from the proxy. Started with
  <code>--proxy-protocol --trust-proxy</code>, the server reads the PROXY header a trusted proxy sends first and shows
  the client's 5-tuple, with the proxy's own connection as the hop; behind an HTTP proxy, <code>Forwarded</code>
  from a trusted one is shown beside the proxy's row. With <code>--workers</code> each row names the worker process that accepted it.</p>
  <p><b>Bytes.</b> Click a row (or focus its <code>#</code> and press Enter) to see what crossed that connection: the
  request head and the <code>101</code> as received and sent, every line ending in the two bytes CR LF (shown <code>\r\n</code>),
  then each WebSocket frame as in RFC 6455 §5.2: FIN, RSV1-3, the 4-bit opcode, MASK, the 7-bit payload length (126 and 127
  mean a 16- or 64-bit length follows), the masking key a client must send, and the payload before and after unmasking.
  Other connections are shown as a hex dump. The server keeps only the first bytes of each direction.</p>
  <p>The feed leaves out the frames of <code>/_lab/events</code> connections: reporting each of them would send another
  frame, and the stream would feed itself. Their accept, request, 101 and close are shown.</p>
</footer>
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only this page's own script and style run; the feed and the chat may connect to this origin only
 * (CSP Level 3: 'self' covers ws: and wss: on the same host and port); nothing may frame the page.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface DashboardData {
  /** The connection that carries this very response: the page's own HTTP 5-tuple. */
  readonly page: SelfIdentity | null;
  readonly server: { readonly address: string; readonly port: number };
}

/** The page, with `data` in a JSON data block (not executed, so outside the CSP's script rule). */
export function renderDashboard(data: DashboardData): string {
  // `<` escaped, so no value can close the data block early.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchyard lab</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script id="lab-data" type="application/json">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
