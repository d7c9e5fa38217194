/**
 * The page bootstrap: templates/base.html loads this module on every page of
 * the site (home and login included). It owns what a page has once, whatever
 * apps it shows:
 *
 * - the page's single RealtimeClient (the session cookie signs it in);
 * - the connection indicator in the site header (state, round-trip latency,
 *   "Retry now" while reconnecting);
 * - the inbox dispatcher: a signed-in page joins `inbox` once and app modules
 *   subscribe to its events (`page.inbox.on`) and join replies
 *   (`page.inbox.onJoin`);
 * - the desktop-notification permission and `page.notify()`;
 * - mounting app modules: every element with `data-module="<module URL>"` (and
 *   optionally `data-config="<id of a json_script element>"`) gets that
 *   module's `mount(root, config, rt, page)` called.
 *
 * Everything below is exported and takes its DOM and globals as arguments, so
 * node:test checks it (tests/js/page.test.mjs); only the last line starts the
 * page, and only in a browser.
 *
 * @module realtime/page
 */
import { RealtimeClient } from './client.js';
import { STATE, TOPIC } from './protocol.js';

/** ms between latency probes while the connection is open. */
export const LATENCY_INTERVAL_MS = 12000;

/** A page wants to be back soon after a server restart; full jitter still spreads the clients. */
export const PAGE_BACKOFF = Object.freeze({ base: 500, cap: 8000 });

const STATE_LABELS = {
  [STATE.CONNECTING]: 'connecting',
  [STATE.OPEN]: 'connected',
  [STATE.RECONNECTING]: 'reconnecting',
  [STATE.CLOSED]: 'offline',
};

// --- connection indicator -----------------------------------------------------------

/**
 * The indicator's text for a client state.
 * @param {string} state connecting | open | reconnecting | closed
 * @returns {'connecting'|'connected'|'reconnecting'|'offline'}
 */
export function connectionLabel(state) {
  return STATE_LABELS[state] ?? 'offline';
}

/**
 * A round trip for people: "23 ms", "<1 ms"; '' when unknown.
 * @param {number|null|undefined} ms
 * @returns {string}
 */
export function latencyText(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '';
  const rounded = Math.round(ms);
  return rounded < 1 ? '<1 ms' : `${rounded} ms`;
}

/**
 * What the indicator shows: `state` goes to `data-state`, `label` is its
 * text, `latency` is shown only while open, `canRetry` offers "Retry now".
 * @param {string} state
 * @param {number|null} [latencyMs] the last measured round trip
 * @returns {{state: string, label: string, latency: string, canRetry: boolean}}
 */
export function indicatorView(state, latencyMs = null) {
  const known = state in STATE_LABELS;
  return {
    state: known ? state : STATE.CLOSED,
    label: connectionLabel(state),
    latency: state === STATE.OPEN ? latencyText(latencyMs) : '',
    canRetry: state === STATE.RECONNECTING,
  };
}

/**
 * Drives the header indicator from a client: its state, the latency of a
 * `ping()` right after every open and then every `interval` ms, and a
 * "Retry now" button that reconnects at once.
 */
export class ConnectionIndicator {
  /**
   * @param {{state: string, on: Function, ping: () => Promise<number>, connect: () => void}} rt
   * @param {{root?: any, label?: any, latency?: any, retry?: any}} elements any may be missing
   * @param {{interval?: number, setInterval?: Function, clearInterval?: Function}} [options]
   */
  constructor(rt, elements, options = {}) {
    this.rt = rt;
    this.root = elements.root ?? null;
    this.label = elements.label ?? null;
    this.latencyNode = elements.latency ?? null;
    this.retry = elements.retry ?? null;
    this.interval = options.interval ?? LATENCY_INTERVAL_MS;
    this._setInterval = options.setInterval ?? ((fn, ms) => globalThis.setInterval(fn, ms));
    this._clearInterval = options.clearInterval ?? ((id) => globalThis.clearInterval(id));
    /** The last round trip measured on the current connection, in ms. */
    this.latency = null;
    this._timer = null;
    // Bumped on every state change, so a pong of an earlier connection is not shown.
    this._epoch = 0;
    this._unsubscribe = null;
    this._onRetry = () => this.rt.connect();
  }

  /** Start following the client; returns `this`. */
  start() {
    const offState = this.rt.on('state', (state) => this._onState(state));
    // Which transport carries the connection (websocket, sse, poll), shown when it is not WebSocket.
    const offTransport = this.rt.on('transport', () => this.render());
    this._unsubscribe = () => {
      offState?.();
      offTransport?.();
    };
    this.retry?.addEventListener('click', this._onRetry);
    this._onState(this.rt.state);
    return this;
  }

  stop() {
    this._unsubscribe?.();
    this._unsubscribe = null;
    this.retry?.removeEventListener('click', this._onRetry);
    this._stopProbes();
  }

  /** Ping once and show the result if the connection it measured is still the current one. */
  measure() {
    const epoch = this._epoch;
    return this.rt.ping().then(
      (ms) => {
        if (epoch !== this._epoch) return;
        this.latency = ms;
        this.render();
      },
      () => {}, // not connected any more: the state change renders that
    );
  }

  render() {
    const view = indicatorView(this.rt.state, this.latency);
    const transport = view.state === STATE.OPEN ? (this.rt.transport ?? '') : '';
    if (transport && transport !== 'websocket') view.label = `${view.label} · ${transport === 'sse' ? 'SSE' : 'polling'}`;
    if (this.root) {
      this.root.dataset.state = view.state;
      this.root.dataset.transport = transport;
      this.root.title = view.latency ? `Realtime connection ${view.label}, round trip ${view.latency}` : `Realtime connection ${view.label}`;
    }
    if (this.label) {
      this.label.dataset.state = view.state;
      this.label.textContent = view.label;
    }
    if (this.latencyNode) {
      this.latencyNode.textContent = view.latency;
      this.latencyNode.hidden = !view.latency;
    }
    if (this.retry) this.retry.hidden = !view.canRetry;
    return view;
  }

  _onState(state) {
    this._epoch++;
    this.latency = null;
    this._stopProbes();
    this.render();
    if (state === STATE.OPEN) {
      this.measure();
      this._timer = this._setInterval(() => this.measure(), this.interval);
    }
  }

  _stopProbes() {
    if (this._timer !== null) this._clearInterval(this._timer);
    this._timer = null;
  }
}

// --- inbox dispatcher -----------------------------------------------------------------

function callSafely(fn, ...args) {
  try {
    fn(...args);
  } catch (error) {
    console.error('[page] inbox subscriber failed:', error);
  }
}

/**
 * The signed-in user's `inbox` topic, joined once per page and shared by every
 * app module. Subscribers get each event once, in order (the client's
 * guarantee), and every join reply.
 */
export class InboxDispatcher {
  /** @param {{join: Function, send: Function}} rt */
  constructor(rt, { topic = TOPIC.INBOX } = {}) {
    this.rt = rt;
    this.topic = topic;
    /** Whether this page joins the inbox (false on anonymous pages). */
    this.enabled = false;
    /** The latest join reply, or null before the first one. */
    this.reply = null;
    this._events = new Map(); // event name ('*': every event) -> Set of fn(payload, frame)
    this._joins = new Set();
    this._errors = new Set();
    this._ready = null;
    this._lastError = null;
  }

  /**
   * Resolves with the first join reply; resolves with null on a page that
   * does not join the inbox; rejects when the join is refused.
   * @returns {Promise<object|null>}
   */
  get ready() {
    return this._ready ?? Promise.resolve(null);
  }

  /** Join the inbox (once; later calls return the same promise). */
  start() {
    if (this._ready) return this._ready;
    this.enabled = true;
    this._ready = this.rt.join(this.topic, {}, {
      onJoin: (reply, info) => this._onJoin(reply, info),
      onEvent: (event, payload, frame) => this._onEvent(event, payload, frame),
      onError: (error) => this._onError(error),
    });
    // Subscribers and `ready` hear about a refusal; nobody must be forced to catch it.
    this._ready.catch((error) => this._onError(error));
    return this._ready;
  }

  /**
   * Call `fn(payload, frame)` for every `event` of the inbox (`'*'`: every event).
   * @param {string} event
   * @param {(payload: any, frame: object) => void} fn
   * @returns {() => void} unsubscribe
   */
  on(event, fn) {
    if (!this._events.has(event)) this._events.set(event, new Set());
    const set = this._events.get(event);
    const entry = (payload, frame) => fn(payload, frame); // one subscription per call, even for the same fn
    set.add(entry);
    return () => set.delete(entry);
  }

  /**
   * Call `fn(reply, {rejoin, reset})` after every (re)join, as the client's
   * `onJoin`. A subscriber that comes after a join was answered gets the
   * latest reply at once (in a microtask) with `{rejoin: false, reset: false,
   * late: true}`: for it, that reply is the first state it sees.
   * @param {(reply: object, info: {rejoin: boolean, reset: boolean, late?: boolean}) => void} fn
   * @returns {() => void} unsubscribe
   */
  onJoin(fn) {
    const entry = { fn };
    this._joins.add(entry);
    if (this.reply !== null) {
      const reply = this.reply;
      queueMicrotask(() => {
        if (this._joins.has(entry)) callSafely(fn, reply, { rejoin: false, reset: false, late: true });
      });
    }
    return () => this._joins.delete(entry);
  }

  /**
   * Call `fn(error)` when the inbox join is refused (the first one, or a
   * re-join after the identity changed).
   * @returns {() => void} unsubscribe
   */
  onError(fn) {
    const entry = { fn };
    this._errors.add(entry);
    return () => this._errors.delete(entry);
  }

  /** `rt.send('inbox', event, payload, options)`. */
  send(event, payload = {}, options = {}) {
    return this.rt.send(this.topic, event, payload, options);
  }

  _onJoin(reply, info) {
    this.reply = reply ?? {};
    for (const entry of [...this._joins]) callSafely(entry.fn, this.reply, info);
  }

  _onEvent(event, payload, frame) {
    for (const name of [event, '*']) {
      const set = this._events.get(name);
      if (!set) continue;
      for (const fn of [...set]) callSafely(fn, payload, frame);
    }
  }

  _onError(error) {
    if (this._lastError === error) return; // the same refusal from onError and the rejected join
    this._lastError = error;
    for (const entry of [...this._errors]) callSafely(entry.fn, error);
  }
}

// --- desktop notifications -------------------------------------------------------------

/**
 * `notify(title, options)` for app modules: shows a desktop notification only
 * while the tab is hidden and the permission is granted; returns it, or null.
 * `options` are the Notification options plus `url` (opened on click) and
 * `onClick`.
 * @param {{window: any, document: any}} env
 */
export function createNotify({ window: win, document: doc }) {
  return function notify(title, options = {}) {
    const { url, onClick, ...shown } = options;
    const Notice = win.Notification;
    if (!doc.hidden || typeof Notice !== 'function' || Notice.permission !== 'granted') return null;
    try {
      const notice = new Notice(title, shown);
      notice.onclick = () => {
        win.focus?.();
        if (url) win.location.assign(url);
        onClick?.();
      };
      return notice;
    } catch (error) {
      console.warn('[page] notification failed:', error);
      return null;
    }
  };
}

/** The permission state line under the "Enable desktop notifications" button. */
export function notificationStateText(permission) {
  if (permission === null) return 'Desktop notifications are not available in this browser.';
  if (permission === 'granted') return 'Desktop notifications are on.';
  if (permission === 'denied') return 'Desktop notifications are blocked.';
  return '';
}

/**
 * The "Enable desktop notifications" button and its state line: the button
 * shows while the browser has not been asked yet.
 */
export class NotificationPermission {
  constructor(win, { button, state }) {
    this.win = win;
    this.button = button ?? null;
    this.state = state ?? null;
    this._onClick = async () => {
      try {
        await this.win.Notification.requestPermission();
      } finally {
        this.render();
      }
    };
  }

  /** 'default' | 'granted' | 'denied', or null without the Notification API. */
  permission() {
    const Notice = this.win.Notification;
    return typeof Notice === 'function' ? Notice.permission : null;
  }

  start() {
    this.button?.addEventListener('click', this._onClick);
    this.render();
    return this;
  }

  render() {
    const permission = this.permission();
    if (this.button) this.button.hidden = permission !== 'default';
    if (this.state) this.state.textContent = notificationStateText(permission);
  }
}

// --- app modules -------------------------------------------------------------------------

/**
 * The URL of a root's module, resolved against the page; null unless it is
 * on the page's own origin (a page only runs the site's own modules).
 * @param {string|undefined} spec the root's `data-module`
 * @param {string} pageUrl
 * @returns {string|null}
 */
export function moduleUrl(spec, pageUrl) {
  if (!spec) return null;
  try {
    const url = new URL(spec, pageUrl);
    return url.origin === new URL(pageUrl).origin ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The config of a root: the JSON in the element whose id is its
 * `data-config` (a Django `json_script`), or `{}` without one.
 * @param {any} root
 * @param {{getElementById: (id: string) => any}} doc
 */
export function readConfig(root, doc) {
  const id = root.dataset.config;
  if (!id) return {};
  const node = doc.getElementById(id);
  if (!node) throw new Error(`no config element #${id}`);
  return JSON.parse(node.textContent);
}

/**
 * Import the module of every root, then call `beforeMount()` once, then each
 * module's `mount(root, config, rt, page)` in document order. Each root gets
 * `data-mounted="true"` or, when its module cannot be loaded or its mount
 * throws (or rejects), `"failed"`; one failing module never stops the others.
 *
 * `beforeMount` runs after every import and before the first mount, with no
 * await in between, so whatever it starts (the inbox join) cannot be
 * answered before the modules' subscriptions exist.
 *
 * @param {any[]} roots elements with `data-module`
 * @param {{rt: any, page: any, document: any, pageUrl: string,
 *   importModule?: (url: string) => Promise<any>, beforeMount?: () => void}} options
 * @returns {Promise<{root: any, ok: boolean, error?: any}[]>}
 */
export async function mountModules(roots, { rt, page, document: doc, pageUrl, importModule = (url) => import(url), beforeMount = () => {} }) {
  const loading = roots.map((root) => {
    const url = moduleUrl(root.dataset.module, pageUrl);
    if (!url) return Promise.reject(new Error(`refused module URL ${JSON.stringify(root.dataset.module)}`));
    return importModule(url);
  });
  const loaded = await Promise.allSettled(loading);
  beforeMount();
  const mounting = roots.map((root, i) => {
    const outcome = loaded[i];
    let result;
    try {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (typeof outcome.value?.mount !== 'function') throw new Error(`${root.dataset.module} exports no mount()`);
      result = outcome.value.mount(root, readConfig(root, doc), rt, page);
    } catch (error) {
      result = Promise.reject(error);
    }
    return Promise.resolve(result).then(
      () => {
        root.dataset.mounted = 'true';
        return { root, ok: true };
      },
      (error) => {
        console.error(`[page] module ${root.dataset.module} failed:`, error);
        root.dataset.mounted = 'failed';
        return { root, ok: false, error };
      },
    );
  });
  return Promise.all(mounting);
}

// --- the page ------------------------------------------------------------------------------

/**
 * Start the page: the client, the indicator, the notification permission,
 * the app modules and (signed in) the inbox. base.html marks its script tag
 * `#realtime-page` with `data-signed-in`.
 *
 * @param {{window?: any, document?: any, Client?: typeof RealtimeClient,
 *   importModule?: (url: string) => Promise<any>, setInterval?: Function, clearInterval?: Function}} [env]
 * @returns {{page: object, mounted: Promise<any[]>}}
 */
export function startPage({
  window: win = globalThis.window,
  document: doc = globalThis.document,
  Client = RealtimeClient,
  importModule,
  setInterval,
  clearInterval,
} = {}) {
  const signedIn = doc.getElementById('realtime-page')?.dataset.signedIn === 'true';
  const rt = new Client({ backoff: { ...PAGE_BACKOFF } });
  const inbox = new InboxDispatcher(rt);
  const page = { rt, inbox, notify: createNotify({ window: win, document: doc }), signedIn };

  page.indicator = new ConnectionIndicator(rt, {
    root: doc.getElementById('connection'),
    label: doc.getElementById('connection-state'),
    latency: doc.getElementById('connection-latency'),
    retry: doc.getElementById('connection-retry'),
  }, { setInterval, clearInterval }).start();
  page.notifications = new NotificationPermission(win, {
    button: doc.getElementById('notify-permission'),
    state: doc.getElementById('notify-state'),
  }).start();

  const roots = [...doc.querySelectorAll('[data-module]')];
  const mounted = mountModules(roots, {
    rt,
    page,
    document: doc,
    pageUrl: win.location.href,
    importModule,
    beforeMount: () => {
      if (signedIn) inbox.start();
    },
  });
  return { page, mounted };
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') {
  // For the console and end-to-end tests: the page's client, inbox and helpers.
  window.realtimePage = startPage().page;
}
