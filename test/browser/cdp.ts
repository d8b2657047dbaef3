/**
 * A small Chrome DevTools Protocol client, spoken over the project's own WebSocket client: JSON-RPC
 * requests `{id, method, params, sessionId}` out, results `{id, result | error}` and events
 * `{method, params, sessionId}` in. Pages are attached with flattened sessions, so one WebSocket carries
 * the browser and every page. Every request has a deadline: a browser that stops answering fails the
 * test instead of hanging it.
 */
import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';

export interface CdpEvent {
  readonly method: string;
  readonly params: any;
  readonly sessionId?: string;
}

interface Pending {
  readonly resolve: (value: any) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class Cdp {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(event: CdpEvent) => void>();
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => this.#receive(String(data)));
    ws.on('close', (code) => {
      this.#closed = new Error(`DevTools connection closed (${code})`);
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(this.#closed);
        this.#pending.delete(id);
      }
    });
  }

  static async connect(url: string): Promise<Cdp> {
    // Screenshots arrive as one base64 message of a few MiB.
    return new Cdp(await connect(url, { timeoutMs: DEFAULT_TIMEOUT_MS, maxMessageBytes: 64 * 1024 * 1024 }));
  }

  send<T = any>(method: string, params: object = {}, sessionId?: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer from the browser within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(listener: (event: CdpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The next event `method` (on `sessionId`) that satisfies `predicate`, or a rejection after `timeoutMs`. */
  waitForEvent(method: string, sessionId: string | undefined, predicate: (params: any) => boolean = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`no ${method} within ${timeoutMs} ms`)); }, timeoutMs);
      const off = this.on((event) => {
        if (event.method !== method || event.sessionId !== sessionId || !predicate(event.params)) return;
        clearTimeout(timer);
        off();
        resolve(event.params);
      });
    });
  }

  close(): void { this.#ws.close(); }

  #receive(text: string): void {
    const message = JSON.parse(text) as { id?: number; result?: unknown; error?: { code: number; message: string }; method?: string; params?: unknown; sessionId?: string };
    if (message.id !== undefined) {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.error) pending.reject(new Error(`CDP error ${message.error.code}: ${message.error.message}`));
      else pending.resolve(message.result);
      return;
    }
    if (message.method) {
      const event: CdpEvent = { method: message.method, params: message.params, ...(message.sessionId ? { sessionId: message.sessionId } : {}) };
      for (const listener of [...this.#listeners]) listener(event);
    }
  }
}

/** One tab, attached with a flattened session: navigate, evaluate, wait for a condition, take a screenshot. */
export class CdpPage {
  readonly #cdp: Cdp;
  readonly sessionId: string;
  /** Uncaught exceptions and console/log errors seen on this page (CSP violations are reported as log errors). */
  readonly problems: string[] = [];

  private constructor(cdp: Cdp, sessionId: string) {
    this.#cdp = cdp;
    this.sessionId = sessionId;
    cdp.on((event) => {
      if (event.sessionId !== sessionId) return;
      if (event.method === 'Runtime.exceptionThrown') this.problems.push(`exception: ${event.params.exceptionDetails?.exception?.description ?? event.params.exceptionDetails?.text}`);
      if (event.method === 'Log.entryAdded' && event.params.entry.level === 'error') this.problems.push(`${event.params.entry.source}: ${event.params.entry.text}`);
    });
  }

  /**
   * A new window (so its page is visible, not a throttled background tab), attached and sized. Each page
   * gets its own browser context, like a separate profile: no shared cookies and no shared keep-alive
   * connections, so two pages are two independent clients.
   */
  static async open(cdp: Cdp, width = 1440, height = 1000): Promise<CdpPage> {
    const { browserContextId } = await cdp.send<{ browserContextId: string }>('Target.createBrowserContext');
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', newWindow: true, browserContextId });
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = new CdpPage(cdp, sessionId);
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    await page.send('Log.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    return page;
  }

  send<T = any>(method: string, params: object = {}, timeoutMs?: number): Promise<T> {
    return this.#cdp.send<T>(method, params, this.sessionId, timeoutMs);
  }

  /** Navigate and wait for the load event. */
  async navigate(url: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const loaded = this.#cdp.waitForEvent('Page.loadEventFired', this.sessionId, () => true, timeoutMs);
    // If Page.navigate itself fails (no answer: a server that never responds), the load wait must not
    // become an unhandled rejection that escapes the test's own error handling.
    loaded.catch(() => {});
    const result = await this.send<{ errorText?: string }>('Page.navigate', { url }, timeoutMs);
    if (result.errorText) throw new Error(`navigating to ${url} failed: ${result.errorText}`);
    await loaded;
  }

  /** Evaluate `expression` in the page (promises awaited) and return its value as JSON. */
  async evaluate<T = unknown>(expression: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const { result, exceptionDetails } = await this.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
      'Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, timeoutMs,
    );
    if (exceptionDetails) throw new Error(`page threw: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value as T;
  }

  /** Evaluate `expression` every 100 ms until it is truthy; fail with `what` after `timeoutMs`. */
  async waitFor<T>(expression: string, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      last = await this.evaluate<T>(expression);
      if (last) return last as T;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async screenshot(): Promise<Buffer> {
    const { data } = await this.send<{ data: string }>('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, 20_000);
    return Buffer.from(data, 'base64');
  }
}
