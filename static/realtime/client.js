/**
 * Browser / SPA client for the realtime WebSocket protocol, version 1
 * (docs/protocol.md). One ES module, no dependencies, no build step.
 *
 * One socket multiplexes every topic. Where a WebSocket never opens (proxies, captive
 * portals), the client falls back to the HTTP transport (`transports`: Server-Sent Events,
 * then long polling; ./transport_http.js), probes WebSocket in the background and moves
 * back when it works; topics resume across the switch like after any reconnect. The client authenticates with an `auth`
 * frame (never `?token=` on the URL), keeps the socket alive with pings,
 * reconnects with exponential backoff and full jitter, re-joins every topic with
 * `since` = the last `seq` it saw, and hands the application every replayable
 * event exactly once, in order. Sends carry a `client_id`, so a send that was
 * cut off by a dropped connection is re-sent after the reconnect without creating
 * a duplicate on the server.
 *
 * @example
 * import { RealtimeClient } from '/static/realtime/client.js';
 *
 * const rt = new RealtimeClient({
 *   // Called on connect, shortly before the token expires, and with
 *   // {force: true} after the server closed with 4401.
 *   token: async ({ force }) => (force ? await refreshAccessToken() : getAccessToken()),
 * });
 * rt.on('state', (state) => banner.show(state));      // connecting/open/reconnecting/closed
 * rt.on('close', ({ code }) => { if (code === 4403) alert('You were removed.'); });
 *
 * await rt.join('chat:42', {}, {
 *   // Runs after every successful (re)join; reload over HTTP when reset is true.
 *   onJoin: (reply, { rejoin, reset }) => (reset ? reloadChannel() : applyState(reply)),
 *   // Exactly once per seq, in order; ephemeral events (typing, presence.diff) too.
 *   onEvent: (event, payload) => render(event, payload),
 * });
 * const { message } = await rt.send('chat:42', 'message.create', { body: 'hi' }, {
 *   onStatus: (status) => markBubble(status),          // sending -> sent | failed
 * });
 * rt.send('chat:42', 'typing', { typing: true }, { queue: false }).catch(() => {});
 *
 * @module realtime/client
 */
import { CLOSE, ERROR, OP, STATE } from './protocol.js';
import { HttpSocket, httpBase } from './transport_http.js';

/** @typedef {'connecting'|'open'|'reconnecting'|'closed'} ClientState */
/** @typedef {'sending'|'sent'|'failed'} SendStatus */

/**
 * @typedef {object} ClientOptions
 * @property {string} [url] WebSocket URL; default `ws(s)://<location.host>/ws/`.
 * @property {string|null|((opts: {force: boolean}) => (string|null|Promise<string|null>))} [token]
 *   A JWT access token, or a function returning one (or null for anonymous).
 * @property {{base?: number, cap?: number}} [backoff] Reconnect backoff in ms
 *   (default base 1000, cap 30000).
 * @property {number} [stableAfter] ms a connection must stay open before the
 *   backoff attempt counter resets (default 10000).
 * @property {number} [maxQueue] Bound of the queue of sends waiting for a
 *   connection (default 100).
 * @property {number} [connectTimeout] ms from opening a socket to `open` state
 *   (hello, and the auth reply when a token is used) before the attempt is
 *   abandoned (default 15000).
 * @property {boolean} [autoConnect] Connect on construction (default true; the
 *   connection starts in a microtask, so listeners added right after `new` see
 *   the first `state` event).
 * @property {typeof WebSocket} [WebSocket] WebSocket implementation
 *   (default `globalThis.WebSocket`).
 * @property {Array<'websocket'|'sse'|'poll'>} [transports] Transports in order of
 *   preference (default all three): the next one is used when a connection on one has not
 *   said hello within `fallbackAfter` ms, or failed twice before hello.
 * @property {number} [fallbackAfter] ms a transport may take to say hello before the next
 *   one is tried (default 4000).
 * @property {number} [probeInterval] ms between background WebSocket probes while on a
 *   fallback transport (default 30000); a probe that gets hello moves the client back.
 * @property {string} [httpUrl] Base URL of the HTTP transport; default `/rt/` on the
 *   WebSocket URL's host.
 * @property {typeof fetch} [fetch] fetch implementation (HTTP transport; tests).
 * @property {any} [EventSource] EventSource implementation (HTTP transport; tests).
 * @property {() => number} [random] Random source in [0, 1) (default Math.random).
 * @property {EventTarget|null} [eventTarget] Where `online`/`offline` events are
 *   heard (default `window` in a browser; null disables).
 * @property {(fn: () => void, ms: number) => any} [setTimeout] Clock override (tests).
 * @property {(id: any) => void} [clearTimeout] Clock override (tests).
 * @property {() => number} [now] Clock override in ms (tests; default Date.now).
 */

/**
 * @typedef {object} JoinCallbacks
 * @property {(event: string, payload: any, frame: object) => void} [onEvent]
 *   Called once per delivered event of the topic.
 * @property {(payload: any, info: {rejoin: boolean, reset: boolean}) => void} [onJoin]
 *   Called after every successful join or re-join, before that reply's `missed`
 *   events are delivered. `reset: true`: events were lost, reload over HTTP.
 * @property {(error: Error) => void} [onError] Called when a re-join is refused
 *   (e.g. `forbidden` after the identity changed); the topic is then forgotten.
 */

/**
 * @typedef {object} SendOptions
 * @property {boolean} [queue] Wait for the connection when not open (default
 *   true). False for ephemeral events such as typing: fail at once instead.
 * @property {(status: SendStatus, detail: any) => void} [onStatus]
 */

const DEFAULT_BACKOFF = { base: 1000, cap: 30000 };
const REFRESH_MARGIN_MS = 30000;

// ---------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------

/**
 * Reconnect delay with "full jitter": uniformly random between 0 and the
 * exponential ceiling, so a server restart does not make every client come
 * back in the same instant.
 * @param {number} attempt 0 for the first retry.
 * @param {{base?: number, cap?: number}} [backoff]
 * @param {() => number} [random]
 * @returns {number} ms
 */
export function backoffDelay(attempt, { base = DEFAULT_BACKOFF.base, cap = DEFAULT_BACKOFF.cap } = {}, random = Math.random) {
  // Clamp the exponent: 2 ** 1100 is Infinity and 0 * Infinity is NaN.
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(attempt, 0), 40));
  return random() * ceiling;
}

/**
 * Highest `seq` seen on one topic's stream, and the verdict on the next one.
 * `last === null` means "not anchored": the first seq seen is accepted as is
 * (first join without `since`, or after a `reset`, where the server sends no
 * missed events and live events continue from its current seq).
 */
export class SeqTracker {
  /** @param {number|null} [last] */
  constructor(last = null) {
    /** @type {number|null} */
    this.last = last;
  }

  /**
   * @param {number} seq
   * @returns {'new'|'duplicate'|'gap'}
   */
  classify(seq) {
    if (this.last === null || seq === this.last + 1) return 'new';
    if (seq <= this.last) return 'duplicate';
    return 'gap';
  }

  /** Record seq as seen (only ever moves forward). @param {number} seq */
  accept(seq) {
    if (this.last === null || seq > this.last) this.last = seq;
  }

  /** Forget the position: the next seq re-anchors. */
  reset() {
    this.last = null;
  }
}

/**
 * The `exp` claim (seconds since the epoch) of a JWT, or null when the token
 * is not a decodable JWT. The signature is not checked: the client only needs
 * to know when to refresh, the server decides validity.
 * @param {string|null|undefined} token
 * @returns {number|null}
 */
export function decodeJwtExp(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length < 2) return null;
  try {
    let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : null;
  } catch {
    return null;
  }
}

/**
 * When to send a fresh `auth`: 30 s before expiry, or at 80% of the remaining
 * lifetime when that margin (20%) is the shorter one. A 5 min token is
 * refreshed after 4.5 min; a 20 s token after 16 s, rather than at once and
 * over and over.
 * @param {number} exp JWT exp in seconds.
 * @param {number} nowMs current time in ms.
 * @returns {number|null} delay in ms, or null when already expired (the
 *   server's 4401 then drives the refresh).
 */
export function refreshDelay(exp, nowMs) {
  const remaining = exp * 1000 - nowMs;
  if (!(remaining > 0)) return null;
  return Math.max(remaining - REFRESH_MARGIN_MS, remaining * 0.8);
}

let encoder = null;
/** UTF-8 size of a string, as the server measures `max_frame_bytes`. */
function byteLength(text) {
  encoder ??= new TextEncoder();
  return encoder.encode(text).length;
}

function makeError(code, message, extra) {
  const err = new Error(message || code);
  err.code = code;
  err.fields = {};
  if (extra) Object.assign(err, extra);
  return err;
}

/** Error for a `reply` with `ok: false`; `.code`, `.fields`, `.error` (raw). */
function replyError(error) {
  const e = error && typeof error === 'object' ? error : { code: ERROR.SERVER_ERROR, message: String(error) };
  return makeError(e.code || ERROR.SERVER_ERROR, e.message || e.code, { fields: e.fields || {}, error: e });
}

function defaultUrl() {
  const loc = globalThis.location;
  if (!loc || !loc.host) throw new TypeError('RealtimeClient: `url` is required outside a browser page');
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws/`;
}

const noop = () => {};

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * Realtime client. Events (`client.on(name, fn)`):
 * - `state` (state, detail): connecting | open | reconnecting | closed.
 * - `hello` (frame): each connection's hello.
 * - `auth` (user): an `auth` frame was accepted (connect or refresh).
 * - `error` (frame): a server `error` frame, or `{op:'error', error}` for a
 *   refused token refresh.
 * - `close` ({code, reason, reconnect, delay}): every lost socket.
 * - `event` (frame): every event delivered to a topic handler.
 * - `send` ({topic, event, client_id, status, detail}): send status changes.
 * - `join_error` ({topic, error}): a re-join was refused; the topic is forgotten.
 */
export class RealtimeClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    const o = options;
    /** @type {string} */
    this.url = o.url ?? defaultUrl();
    this.backoff = { base: o.backoff?.base ?? DEFAULT_BACKOFF.base, cap: o.backoff?.cap ?? DEFAULT_BACKOFF.cap };
    this.stableAfter = o.stableAfter ?? 10000;
    this.maxQueue = o.maxQueue ?? 100;
    this.connectTimeout = o.connectTimeout ?? 15000;
    /** @type {Array<'websocket'|'sse'|'poll'>} */
    this.transports = o.transports?.length ? [...o.transports] : ['websocket', 'sse', 'poll'];
    this.fallbackAfter = o.fallbackAfter ?? 4000;
    this.probeInterval = o.probeInterval ?? 30000;
    this._httpUrl = o.httpUrl ?? null;
    this._fetch = o.fetch ?? null;
    this._ES = o.EventSource ?? globalThis.EventSource;
    // Index in `transports` of the one connections use now, and its failures before hello.
    this._transport = 0;
    this._failures = 0;
    // A WebSocket said hello once: later failures before hello are outages (a server
    // restart), not a network that blocks WebSocket, and do not move to a fallback.
    this._wsWorked = false;
    /** @type {ClientState} */
    this.state = STATE.CLOSED;
    /** The current identity (hello's user, replaced by auth replies). */
    this.user = null;
    /** The last hello frame; `heartbeat` and `limits` live there. */
    this.hello = null;

    this._token = o.token ?? null;
    this._WS = o.WebSocket ?? globalThis.WebSocket;
    this._random = o.random ?? Math.random;
    this._setTimeout = o.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout = o.clearTimeout ?? ((id) => globalThis.clearTimeout(id));
    this._now = o.now ?? (() => Date.now());
    this._net = o.eventTarget !== undefined ? o.eventTarget : typeof window !== 'undefined' ? window : null;

    this._listeners = new Map();
    /** @type {Map<string, any>} topic -> record, in join order */
    this._topics = new Map();
    /** Sends not written on the current connection, FIFO. */
    this._queue = [];
    this._conn = null;
    this._attempt = 0;
    // Bumped by connect()/close() so an attempt still awaiting its token
    // function knows it was superseded.
    this._gen = 0;
    this._openingGen = null;
    this._reconnectTimer = null;
    // Next token fetch must bypass the app's cache (after a 4401).
    this._force = false;
    // A 4401 was answered with a forced refresh and no connection opened since:
    // a second 4401 means the refresh does not help, so stop instead of looping.
    this._authRetried = false;
    // Closed by close() or a terminal close code; sends fail instead of queueing.
    this._final = false;
    this._started = false;
    this._offline = false;
    this._netAttached = false;
    this._onOnline = () => this._handleOnline();
    this._onOffline = () => this._handleOffline();

    if (o.autoConnect ?? true) {
      queueMicrotask(() => {
        if (!this._started) this.connect();
      });
    }
  }

  /** The transport connections use now: 'websocket', 'sse' or 'poll'. */
  get transport() {
    return this.transports[this._transport];
  }

  /** The server's limits from the last hello (`max_frame_bytes`, `max_topics`). */
  get limits() {
    return this.hello?.limits ?? {};
  }

  // -- event emitter --------------------------------------------------------

  /**
   * @param {string} name
   * @param {(...args: any[]) => void} fn
   * @returns {() => void} unsubscribe
   */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this.off(name, fn);
  }

  /** @param {string} name @param {(...args: any[]) => void} fn */
  off(name, fn) {
    this._listeners.get(name)?.delete(fn);
  }

  _emit(name, ...args) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) this._call(fn, ...args);
  }

  // App code must never break the socket loop: a throwing handler would
  // otherwise abort processing of the rest of a reply's missed events.
  _call(fn, ...args) {
    if (typeof fn !== 'function') return undefined;
    try {
      return fn(...args);
    } catch (err) {
      console.error('[realtime] callback failed:', err);
      return undefined;
    }
  }

  _setState(state, detail = {}) {
    if (this.state === state) return;
    this.state = state;
    this._emit('state', state, detail);
  }

  // -- lifecycle ------------------------------------------------------------

  /** Start, or restart with a fresh socket and backoff; topics are resumed. */
  connect() {
    this._started = true;
    this._final = false;
    this._gen++;
    this._clearReconnect();
    this._attachNet();
    if (this._conn) {
      const conn = this._dropConn(CLOSE.NORMAL, 'restart');
      this._teardown(conn, CLOSE.NORMAL);
    }
    this._attempt = 0;
    this._authRetried = false;
    this._force = false;
    this._offline = false;
    this._transport = 0;
    this._failures = 0;
    this._setState(STATE.CONNECTING);
    this._open();
  }

  /** Close for good: no reconnect; pending joins and sends are rejected ('closed'). */
  close() {
    this._started = true;
    this._gen++;
    this._clearReconnect();
    if (this._conn) {
      const conn = this._dropConn(CLOSE.NORMAL, 'client closed');
      this._teardown(conn, CLOSE.NORMAL);
    }
    this._terminate(CLOSE.NORMAL, 'client closed');
  }

  /**
   * Replace the token (string or function). On an open connection the new
   * identity is applied at once with an `auth` frame (another user: every
   * topic is re-joined as that user); a connection still being set up starts
   * over with it. To drop an identity (logout), set null and call connect().
   * @param {ClientOptions['token']} token
   */
  async setToken(token) {
    this._token = token ?? null;
    const conn = this._conn;
    if (conn ? !conn.ready : this._openingGen === this._gen) {
      // An attempt under way would still authenticate with the old token (or
      // none): start it over with the new one, keeping the backoff state.
      this._gen++;
      if (conn) this._teardown(this._dropConn(CLOSE.NORMAL, 'token changed'), CLOSE.NORMAL);
      this._open();
      return;
    }
    if (!conn) return; // the next connection uses it
    const t = typeof token === 'function' ? await token({ force: false }) : token;
    if (t && conn === this._conn && !conn.lost) this._sendAuth(conn, t, false);
  }

  _open() {
    const gen = this._gen;
    // Until a socket exists: setToken() must restart an attempt still
    // awaiting the old token function.
    this._openingGen = gen;
    const start = (token) => {
      if (gen !== this._gen) return;
      this._openingGen = null;
      let ws;
      try {
        ws = this._socket(this.transport);
      } catch (err) {
        console.error('[realtime] cannot open socket:', err);
        this._afterClose(CLOSE.ABNORMAL, 'connect failed');
        return;
      }
      const conn = { ws, token: token || null, refs: 0, pending: new Map(), timers: new Set(), ready: false, lost: false, hello: null };
      this._conn = conn;
      // A socket can hang in CONNECTING, or open without ever saying hello.
      conn.connectTimer = this._connTimer(conn, this.connectTimeout, () => this._kill(conn, 'connect timeout'));
      if (this._transport < this.transports.length - 1) {
        conn.fallbackTimer = this._connTimer(conn, this.fallbackAfter, () => {
          if (!conn.hello) this._fallBack(conn);
        });
      }
      ws.onmessage = (ev) => this._onMessage(conn, ev.data);
      ws.onclose = (ev) => this._lost(conn, ev?.code ?? CLOSE.ABNORMAL, ev?.reason ?? '');
      ws.onerror = noop; // a close event always follows
    };
    if (typeof this._token !== 'function') {
      start(this._token);
      return;
    }
    const force = this._force;
    Promise.resolve()
      .then(() => this._token({ force }))
      .then(
        (token) => {
          if (gen !== this._gen) return;
          this._force = false;
          start(token);
        },
        (err) => {
          if (gen !== this._gen) return;
          this._openingGen = null;
          // Possibly just offline; retry with backoff, still forcing if we were.
          console.error('[realtime] token function failed:', err);
          this._afterClose(CLOSE.ABNORMAL, 'token unavailable');
        },
      );
  }

  /** A socket for one transport; the HTTP ones behave as a WebSocket (./transport_http.js). */
  _socket(name) {
    if (name === 'websocket') return new this._WS(this.url);
    const mode = name === 'sse' && this._ES ? 'sse' : 'poll';
    const options = { mode, EventSource: this._ES };
    if (this._fetch) options.fetch = this._fetch;
    return new HttpSocket(this._httpUrl ?? httpBase(this.url), options);
  }

  /** The current transport did not say hello in time: try the next one now. */
  _fallBack(conn) {
    if (conn.lost || conn !== this._conn || this._transport >= this.transports.length - 1) return;
    this._transport++;
    this._failures = 0;
    this._gen++;
    this._teardown(this._dropConn(CLOSE.NORMAL, 'fallback'), CLOSE.NORMAL);
    this._open();
  }

  /** While on a fallback transport: a WebSocket that says hello moves the client back to it. */
  _probe(conn) {
    if (conn.lost || conn !== this._conn || this._transport === 0 || this.transports[0] !== 'websocket') return;
    let probe;
    try {
      probe = new this._WS(this.url);
    } catch {
      this._connTimer(conn, this.probeInterval, () => this._probe(conn));
      return;
    }
    conn.probe = probe;
    let settled = false;
    const giveUp = () => {
      if (settled) return;
      settled = true;
      conn.probe = null;
      try {
        probe.close(CLOSE.NORMAL, 'probe');
      } catch {
        /* already closed */
      }
      if (!conn.lost) this._connTimer(conn, this.probeInterval, () => this._probe(conn));
    };
    const timer = this._connTimer(conn, this.fallbackAfter, giveUp);
    probe.onerror = noop;
    probe.onclose = giveUp;
    probe.onmessage = (ev) => {
      let frame = null;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        /* not a hello */
      }
      if (settled || frame?.op !== OP.HELLO) return;
      settled = true;
      conn.probe = null;
      this._clearConnTimer(conn, timer);
      try {
        probe.close(CLOSE.NORMAL, 'probe');
      } catch {
        /* already closed */
      }
      if (conn.lost || conn !== this._conn) return;
      // Back to WebSocket: the topics resume there with `since`, as after any reconnect.
      this._transport = 0;
      this._failures = 0;
      this._gen++;
      this._teardown(this._dropConn(CLOSE.NORMAL, 'back to websocket'), CLOSE.NORMAL);
      this._open();
    };
  }

  _attachNet() {
    if (this._netAttached || !this._net?.addEventListener) return;
    this._net.addEventListener('online', this._onOnline);
    this._net.addEventListener('offline', this._onOffline);
    this._netAttached = true;
  }

  _detachNet() {
    if (!this._netAttached) return;
    this._net.removeEventListener('online', this._onOnline);
    this._net.removeEventListener('offline', this._onOffline);
    this._netAttached = false;
  }

  _handleOnline() {
    this._offline = false;
    if (this._final || !this._reconnectTimer) return;
    // Waiting out a backoff is pointless once the network is back; the attempt
    // counter is kept so a flapping network still backs off.
    this._clearReconnect();
    this._open();
  }

  _handleOffline() {
    if (this._final) return;
    this._offline = true;
    // The socket will not survive; closing now gets the UI to "reconnecting"
    // instead of waiting for a heartbeat timeout.
    if (this._conn) this._kill(this._conn, 'offline');
  }

  _clearReconnect() {
    if (this._reconnectTimer !== null) this._clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  _connTimer(conn, ms, fn) {
    const id = this._setTimeout(() => {
      conn.timers.delete(id);
      if (!conn.lost) fn();
    }, ms);
    conn.timers.add(id);
    return id;
  }

  _clearConnTimer(conn, id) {
    if (id == null) return;
    this._clearTimeout(id);
    conn.timers.delete(id);
  }

  /** Close a socket we gave up on and handle it as lost right away (a dead
   * network may take minutes to deliver the close event). */
  _kill(conn, reason, code = CLOSE.ABNORMAL) {
    if (conn.lost || conn !== this._conn) return;
    this._dropConn(CLOSE.NORMAL, reason);
    this._teardown(conn, code);
    this._afterClose(code, reason);
  }

  /** Detach the current connection and close its socket; returns it. */
  _dropConn(code, reason) {
    const conn = this._conn;
    conn.lost = true;
    this._conn = null;
    try {
      conn.ws.close(code, reason);
    } catch {
      /* already closed */
    }
    return conn;
  }

  _lost(conn, code, reason) {
    if (conn.lost || conn !== this._conn) return; // stale socket
    conn.lost = true;
    this._conn = null;
    const blockedHere = !this._wsWorked || this.transport !== 'websocket';
    if (!conn.hello && code === CLOSE.ABNORMAL && blockedHere && this._transport < this.transports.length - 1) {
      // Closed before hello, twice: this transport keeps failing here, use the next one.
      if (++this._failures >= 2) {
        this._transport++;
        this._failures = 0;
      }
    }
    this._teardown(conn, code);
    this._afterClose(code, reason);
  }

  /**
   * Settle everything tied to a dead connection: joins are re-sent after the
   * reconnect (the topic records stay), sends go back to the head of the queue
   * to be re-sent with the same client_id, pings/leaves/auths are rejected.
   */
  _teardown(conn, code) {
    if (conn.probe) {
      try {
        conn.probe.close(CLOSE.NORMAL, 'probe');
      } catch {
        /* already closed */
      }
      conn.probe = null;
    }
    for (const id of conn.timers) this._clearTimeout(id);
    conn.timers.clear();

    const pending = [...conn.pending.values()].sort((a, b) => Number(a.ref) - Number(b.ref));
    conn.pending.clear();
    const culprits = code === CLOSE.TOO_LARGE ? this._oversized(conn, pending) : new Set();
    const resend = [];
    for (const entry of pending) {
      if (entry.kind === 'send') {
        entry.conn = null;
        if (culprits.has(entry)) {
          this._failSend(entry, makeError(ERROR.TOO_LARGE, 'frame larger than max_frame_bytes'));
        } else if (!this._topics.has(entry.topic)) {
          // Left while the send was in flight: it would wait for a join forever.
          this._failSend(entry, makeError(ERROR.NOT_JOINED, `not joined to ${entry.topic}`));
        } else if (!entry.queue) {
          // queue=false marks ephemeral sends (typing): stale after a reconnect.
          this._failSend(entry, makeError(ERROR.DISCONNECTED, 'connection lost before the reply'));
        } else {
          resend.push(entry);
        }
      } else if (entry.kind !== 'join') {
        entry.reject(makeError(ERROR.DISCONNECTED, 'connection lost before the reply'));
      }
    }
    // In-flight sends were accepted before anything still queued: keep order.
    this._queue = [...resend, ...this._queue];

    for (const rec of this._topics.values()) {
      rec.status = 'idle';
      // Live events held for a join that will never be answered: the re-join's
      // `missed` brings the replayable ones back, ephemeral ones are stale.
      rec.held = [];
      rec.gapFrom = null;
    }
  }

  /**
   * Which pending frame made the server close with 4413. Frames we know exceed
   * the limit are it; otherwise the earliest unanswered frame (the server
   * answers in order, so every frame before the offending one got its reply).
   */
  _oversized(conn, pending) {
    const limit = conn.hello?.limits?.max_frame_bytes;
    const big = new Set(pending.filter((e) => limit && e.size > limit));
    if (big.size === 0 && pending.length > 0 && pending[0].kind === 'send') big.add(pending[0]);
    return big;
  }

  /** Decide what follows a lost connection, by close code. */
  _afterClose(code, reason) {
    if (this._final) return;
    if (code === CLOSE.PROTOCOL_ERRORS || code === CLOSE.REMOVED) {
      // 4400: we have a bug, retrying repeats it. 4403: removed by a moderator
      // or owner; the app must tell the user rather than sneak back in.
      this._terminate(code, reason);
      return;
    }
    if (code === CLOSE.UNAUTHORIZED) {
      if (this._authRetried) {
        this._terminate(code, reason);
        return;
      }
      this._authRetried = true;
      this._force = true;
      // Usually at once; but a server that accepts the fresh token and then
      // 4401s again right away must not get a tight reconnect loop.
      const delay = this._attempt === 0 ? 0 : backoffDelay(this._attempt, this.backoff, this._random);
      this._attempt++;
      this._scheduleReconnect(delay, code, reason);
      return;
    }
    if (this._offline) {
      // Wait for `online`; still retry at the cap in case that event never
      // comes (navigator.onLine is a hint, not a fact).
      this._scheduleReconnect(this.backoff.cap, code, reason);
      return;
    }
    const delay = code === CLOSE.RATE_LIMITED ? this.backoff.cap : backoffDelay(this._attempt, this.backoff, this._random);
    this._attempt++;
    this._scheduleReconnect(delay, code, reason);
  }

  _scheduleReconnect(delay, code, reason) {
    const gen = this._gen;
    this._emit('close', { code, reason, reconnect: true, delay });
    if (gen !== this._gen) return; // a close handler called close() or connect()
    this._setState(STATE.RECONNECTING, { code, reason, delay, attempt: this._attempt });
    this._clearReconnect();
    this._reconnectTimer = this._setTimeout(() => {
      this._reconnectTimer = null;
      this._open();
    }, delay);
  }

  _terminate(code, reason) {
    this._final = true;
    this._gen++;
    this._clearReconnect();
    this._detachNet();
    const closed = () => makeError(ERROR.CLOSED, 'client closed', { closeCode: code });
    const queue = this._queue;
    this._queue = [];
    for (const entry of queue) this._failSend(entry, closed());
    for (const rec of [...this._topics.values()]) {
      // A join the app is still awaiting cannot complete; topics that were
      // joined stay remembered so connect() resumes them.
      if (!rec.everJoined) this._forget(rec, closed());
      else this._rejectWaiters(rec, closed());
    }
    this._emit('close', { code, reason, reconnect: false, delay: null });
    this._setState(STATE.CLOSED, { code, reason });
  }

  // -- frames ---------------------------------------------------------------

  /**
   * Write a frame with the connection's next ref and remember `entry` for the
   * reply. Returns false (nothing written) if the frame exceeds the server's
   * max_frame_bytes: sending it would only get the whole socket closed (4413).
   */
  _write(conn, op, fields, entry) {
    const ref = String(++conn.refs);
    const text = JSON.stringify({ op, ref, ...fields });
    const size = byteLength(text);
    const limit = conn.hello?.limits?.max_frame_bytes;
    if (limit && size > limit) return false;
    entry.ref = ref;
    entry.size = size;
    entry.conn = conn;
    conn.pending.set(ref, entry);
    try {
      conn.ws.send(text);
    } catch (err) {
      // The socket is going away; its close event re-sends or rejects this.
      console.error('[realtime] send failed:', err);
    }
    return true;
  }

  _onMessage(conn, data) {
    if (conn.lost) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      console.error('[realtime] unparsable frame ignored');
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    // Any frame proves the socket alive, not just a pong.
    if (conn.deadTimer != null) {
      this._clearConnTimer(conn, conn.deadTimer);
      conn.deadTimer = null;
    }
    try {
      switch (frame.op) {
        case OP.HELLO:
          this._onHello(conn, frame);
          break;
        case OP.REPLY:
        case OP.PONG:
          this._onReply(conn, frame);
          break;
        case OP.EVENT:
          this._onEventFrame(frame);
          break;
        case OP.ERROR:
          this._emit('error', frame);
          break;
        default:
          break; // newer server: ignore unknown ops
      }
    } catch (err) {
      console.error('[realtime] frame handling failed:', err);
    }
  }

  _onHello(conn, frame) {
    if (conn.hello) return;
    conn.hello = frame;
    this.hello = frame;
    this.user = frame.user ?? null;
    this._failures = 0;
    this._clearConnTimer(conn, conn.fallbackTimer);
    conn.transport = this.transport;
    if (conn.transport === 'websocket') this._wsWorked = true;
    this._emit('transport', conn.transport);
    if (this._transport > 0) this._connTimer(conn, this.probeInterval, () => this._probe(conn));
    this._emit('hello', frame);
    if (conn.lost) return;
    this._startHeartbeat(conn);
    if (conn.token) this._sendAuth(conn, conn.token, false);
    else this._ready(conn);
  }

  _startHeartbeat(conn) {
    const ms = Number(conn.hello.heartbeat) * 1000;
    if (!(ms > 0)) return;
    const tick = () => {
      this._write(conn, OP.PING, {}, { kind: 'ping', start: this._now(), resolve: noop, reject: noop });
      // A half-open TCP connection never reports its death; silence does.
      if (conn.deadTimer == null) {
        conn.deadTimer = this._connTimer(conn, ms, () => this._kill(conn, 'heartbeat timeout'));
      }
      this._connTimer(conn, ms, tick);
    };
    this._connTimer(conn, ms, tick);
  }

  _sendAuth(conn, token, forced) {
    this._write(conn, OP.AUTH, { token }, { kind: 'auth', token, forced, resolve: noop, reject: noop });
  }

  _ready(conn) {
    conn.ready = true;
    this._clearConnTimer(conn, conn.connectTimer);
    this._authRetried = false;
    this._offline = false;
    // Reset the backoff only once the connection proved stable, so a server
    // that accepts and immediately drops us is still backed off from.
    this._connTimer(conn, this.stableAfter, () => {
      this._attempt = 0;
    });
    this._setState(STATE.OPEN, { user: this.user });
    for (const rec of [...this._topics.values()]) {
      if (conn !== this._conn) return; // a state handler closed or restarted
      if (this._topics.get(rec.topic) === rec && rec.status === 'idle') this._sendJoin(rec);
    }
  }

  _onReply(conn, frame) {
    const entry = conn.pending.get(String(frame.ref));
    if (!entry) return;
    conn.pending.delete(String(frame.ref));
    const ok = frame.op === OP.PONG || frame.ok === true;
    switch (entry.kind) {
      case 'ping':
        if (ok) entry.resolve(this._now() - entry.start);
        else entry.reject(replyError(frame.error));
        break;
      case 'auth':
        this._onAuthReply(conn, entry, frame, ok);
        break;
      case 'join':
        this._onJoinReply(conn, entry, frame, ok);
        break;
      case 'leave':
        // not_joined: the server already agrees the topic is left.
        if (ok || frame.error?.code === ERROR.NOT_JOINED) entry.resolve(frame.payload ?? null);
        else entry.reject(replyError(frame.error));
        break;
      case 'send':
        if (ok) this._settleSend(entry, 'sent', frame.payload ?? null);
        else this._failSend(entry, replyError(frame.error));
        break;
      default:
        break;
    }
  }

  // -- auth -----------------------------------------------------------------

  _onAuthReply(conn, entry, frame, ok) {
    if (ok) {
      conn.token = entry.token;
      const before = this.user;
      const p = frame.payload;
      this.user = p && typeof p === 'object' && 'user' in p ? p.user : (p ?? null);
      this._emit('auth', this.user);
      if (conn.lost) return;
      this._scheduleRefresh(conn);
      if (!conn.ready) this._ready(conn);
      else if (before && before.id !== this.user?.id) this._rejoinAll(conn);
      return;
    }
    if (!conn.ready) {
      // The server keeps the socket, anonymous. Joining anonymously would give
      // the app different (or no) data without telling it, so treat it as the
      // 4401 close: refresh once and reconnect.
      this._kill(conn, 'auth refused', CLOSE.UNAUTHORIZED);
      return;
    }
    // A refresh was refused; the old identity holds until it expires.
    this._emit('error', { op: OP.ERROR, error: frame.error });
    if (!entry.forced && typeof this._token === 'function') this._refresh(conn, true);
  }

  /**
   * Another user on an open connection: the server left every topic of the
   * previous one without telling (protocol section 8, `auth` reply). Join
   * them again as the new user, resuming from the last seq; sends wait for
   * the re-join, a refused one is reported as `join_error`. Joins still in
   * flight were written after the auth frame and are answered for the new user.
   */
  _rejoinAll(conn) {
    for (const rec of [...this._topics.values()]) {
      if (conn !== this._conn) return; // a callback closed or restarted
      if (this._topics.get(rec.topic) !== rec || rec.conn !== conn || rec.status !== 'joined') continue;
      rec.conn = null;
      rec.held = [];
      rec.gapFrom = null;
      this._sendJoin(rec);
    }
  }

  _scheduleRefresh(conn) {
    this._clearConnTimer(conn, conn.refreshTimer);
    conn.refreshTimer = null;
    if (typeof this._token !== 'function') return; // nothing could give a newer one
    const exp = decodeJwtExp(conn.token);
    if (exp === null) return;
    const delay = refreshDelay(exp, this._now());
    if (delay === null) return;
    conn.refreshTimer = this._connTimer(conn, delay, () => this._refresh(conn, false));
  }

  async _refresh(conn, force) {
    let token;
    try {
      token = await this._token({ force });
    } catch (err) {
      console.error('[realtime] token refresh failed:', err);
      return; // the server's 4401 at expiry leads to a forced refresh
    }
    if (conn.lost || conn !== this._conn) return;
    const oldExp = decodeJwtExp(conn.token);
    const newExp = decodeJwtExp(token);
    const stale = !token || token === conn.token || (oldExp !== null && newExp !== null && newExp <= oldExp);
    if (stale) {
      // The app's cache may still consider the token valid 30 s before expiry;
      // ask once more, bypassing it.
      if (!force) this._refresh(conn, true);
      return;
    }
    this._sendAuth(conn, token, force);
  }

  // -- topics ---------------------------------------------------------------

  /**
   * Join a topic. The client keeps it joined across reconnects until leave().
   * Joining a topic already joined sends a fresh join (new params/callbacks
   * replace the old ones) and resolves with its reply.
   * @param {string} topic
   * @param {object} [params] join params (e.g. `{password}` for shares).
   * @param {JoinCallbacks} [callbacks]
   * @returns {Promise<any>} the join reply payload; rejects with an Error
   *   carrying `.code` and `.fields` on an error reply.
   */
  join(topic, params = {}, { onEvent, onJoin, onError } = {}) {
    let rec = this._topics.get(topic);
    if (!rec) {
      rec = {
        topic,
        params: {},
        tracker: new SeqTracker(),
        status: 'idle', // idle | joining | joined
        conn: null, // connection on which the server has us joined
        everJoined: false,
        held: [],
        gapFrom: null,
        waiters: [],
      };
      this._topics.set(topic, rec);
    }
    rec.params = { ...params };
    // An app that restores `since` from its own cache anchors the tracker, so
    // the first live event after a gap is detected as one.
    if (rec.tracker.last === null && Number.isInteger(rec.params.since)) rec.tracker.last = rec.params.since;
    if (onEvent) rec.onEvent = onEvent;
    if (onJoin) rec.onJoin = onJoin;
    if (onError) rec.onError = onError;
    return new Promise((resolve, reject) => {
      rec.waiters.push({ resolve, reject });
      const conn = this._conn;
      // While a join is in flight its reply answers this call too.
      if (conn?.ready && rec.status !== 'joining') this._sendJoin(rec);
    });
  }

  /**
   * @param {object} rec
   * @param {{resync?: boolean}} [opts] resync: join without `since` and treat
   *   the reply as a reset (a gap the server could not fill).
   */
  _sendJoin(rec, { resync = false } = {}) {
    rec.status = 'joining';
    const conn = this._conn;
    if (!conn?.ready) return;
    const params = { ...rec.params };
    delete params.since;
    if (!resync && rec.tracker.last !== null) params.since = rec.tracker.last;
    this._write(conn, OP.JOIN, { topic: rec.topic, params }, { kind: 'join', rec, resync, resolve: noop, reject: noop });
  }

  _onJoinReply(conn, entry, frame, ok) {
    const rec = entry.rec;
    if (this._topics.get(rec.topic) !== rec) return; // left meanwhile
    if (!ok) {
      this._onJoinError(conn, rec, replyError(frame.error));
      return;
    }
    const payload = frame.payload ?? {};
    const rejoin = rec.everJoined;
    rec.everJoined = true;
    rec.status = 'joined';
    rec.conn = conn;
    const reset = entry.resync || payload.reset === true;
    if (reset) {
      rec.tracker.reset();
      rec.gapFrom = null;
    }
    // Forward compatible: protocol v1 replies carry no stream position, so an
    // unanchored tracker waits for the first live seq. If a reply ever carries
    // the topic's current `seq`, anchor on it and nothing slips through.
    if (rec.tracker.last === null && Number.isInteger(payload.seq)) rec.tracker.last = payload.seq;

    this._call(rec.onJoin, payload, { rejoin, reset });
    const waiters = rec.waiters;
    rec.waiters = [];
    for (const w of waiters) w.resolve(payload);

    // `missed` first, then what arrived live while the join was in flight;
    // the tracker drops the overlap.
    const missed = Array.isArray(payload.missed) ? payload.missed : [];
    const held = rec.held;
    rec.held = [];
    for (const f of [...missed, ...held]) {
      if (conn.lost) return; // a callback closed the socket; the re-join replays
      this._processFrame(rec, f);
    }
    this._flushQueue(rec);
  }

  _onJoinError(conn, rec, err) {
    if (!rec.everJoined) {
      this._forget(rec, err); // the app's join() rejects; it decides
      return;
    }
    if (err.code === ERROR.RATE_LIMITED || err.code === ERROR.SERVER_ERROR) {
      // Transient: keep the topic, try again on this connection.
      const wait = (Number(err.fields?.retry_after) || 0) * 1000 || this.backoff.base;
      this._connTimer(conn, wait, () => {
        if (this._topics.get(rec.topic) === rec) this._sendJoin(rec);
      });
      return;
    }
    // The identity may no longer see the topic (forbidden, not_found...).
    this._forget(rec, err);
    this._call(rec.onError, err);
    this._emit('join_error', { topic: rec.topic, error: err });
  }

  _rejectWaiters(rec, err) {
    const waiters = rec.waiters;
    rec.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** Drop a topic record; its join waiters and queued sends fail with err. */
  _forget(rec, err) {
    if (this._topics.get(rec.topic) === rec) this._topics.delete(rec.topic);
    this._rejectWaiters(rec, err);
    const mine = this._queue.filter((e) => e.topic === rec.topic);
    this._queue = this._queue.filter((e) => e.topic !== rec.topic);
    for (const entry of mine) this._failSend(entry, err);
  }

  /**
   * Leave a topic and forget it (no re-join, no more events).
   * @param {string} topic
   * @returns {Promise<void>} resolves once the server confirmed (at once when
   *   not connected); rejects if the connection drops before the reply.
   */
  leave(topic) {
    const rec = this._topics.get(topic);
    if (!rec) return Promise.resolve();
    this._forget(rec, makeError(ERROR.NOT_JOINED, `left ${topic}`));
    const conn = this._conn;
    if (!conn?.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this._write(conn, OP.LEAVE, { topic }, { kind: 'leave', resolve: () => resolve(), reject });
    });
  }

  _onEventFrame(frame) {
    const rec = this._topics.get(frame.topic);
    if (rec) this._processFrame(rec, frame); // else: a late event after leave
  }

  /** The single path for live, missed and held events of a topic. */
  _processFrame(rec, frame) {
    if (this._topics.get(rec.topic) !== rec) return;
    if (rec.status !== 'joined') {
      rec.held.push(frame);
      return;
    }
    const seq = frame.seq;
    if (typeof seq === 'number') {
      const verdict = rec.tracker.classify(seq);
      if (verdict === 'duplicate') return;
      if (verdict === 'gap') {
        rec.held.push(frame);
        const last = rec.tracker.last;
        if (rec.gapFrom === last) {
          // We already re-joined from `last` and the gap is still there: the
          // server cannot fill it. Start over as after a reset rather than
          // re-joining forever.
          console.warn(`[realtime] ${rec.topic}: gap after seq ${last} not filled, resyncing`);
          rec.gapFrom = null;
          this._sendJoin(rec, { resync: true });
        } else {
          rec.gapFrom = last;
          this._sendJoin(rec);
        }
        return;
      }
      rec.tracker.accept(seq);
    }
    this._call(rec.onEvent, frame.event, frame.payload, frame);
    this._emit('event', frame);
  }

  // -- sends ----------------------------------------------------------------

  /**
   * Send an event to a joined topic. An object payload without `client_id`
   * gets one (the object is modified), so re-sends after a reconnect are
   * idempotent on the server.
   * @param {string} topic
   * @param {string} event
   * @param {any} [payload]
   * @param {SendOptions} [options]
   * @returns {Promise<any>} the reply payload; rejects with an Error carrying
   *   `.code` (a server code, or 'not_joined', 'queue_full', 'not_connected',
   *   'disconnected' (queue=false only), 'too_large', 'closed') and `.fields`.
   */
  send(topic, event, payload = {}, { queue = true, onStatus } = {}) {
    if (payload && typeof payload === 'object' && !Array.isArray(payload) && payload.client_id == null) {
      payload.client_id = this._newId();
    }
    const client_id = payload && typeof payload === 'object' ? (payload.client_id ?? null) : null;
    return new Promise((resolve, reject) => {
      const entry = { kind: 'send', topic, event, payload, client_id, queue, onStatus, resolve, reject, done: false };
      const rec = this._topics.get(topic);
      if (!rec) return this._failSend(entry, makeError(ERROR.NOT_JOINED, `not joined to ${topic}`));
      if (this._final) return this._failSend(entry, makeError(ERROR.CLOSED, 'client closed'));
      const ready = this._sendable(rec) && !this._queue.some((e) => e.topic === topic);
      if (!ready && !queue) return this._failSend(entry, makeError(ERROR.NOT_CONNECTED, 'not connected'));
      if (!ready && this._queue.length >= this.maxQueue) {
        return this._failSend(entry, makeError(ERROR.QUEUE_FULL, 'send queue full'));
      }
      this._status(entry, 'sending', { client_id, queued: !ready });
      if (ready) this._writeSend(entry);
      else this._queue.push(entry);
      return undefined;
    });
  }

  _sendable(rec) {
    const conn = this._conn;
    return !!conn?.ready && rec.conn === conn && this._topics.get(rec.topic) === rec;
  }

  _writeSend(entry) {
    const ok = this._write(this._conn, OP.SEND, { topic: entry.topic, event: entry.event, payload: entry.payload }, entry);
    if (!ok) this._failSend(entry, makeError(ERROR.TOO_LARGE, 'frame larger than max_frame_bytes'));
  }

  /** Queued sends of a topic go out in order once it is (re)joined. */
  _flushQueue(rec) {
    if (!this._sendable(rec)) return;
    const mine = this._queue.filter((e) => e.topic === rec.topic);
    if (mine.length === 0) return;
    this._queue = this._queue.filter((e) => e.topic !== rec.topic);
    for (const entry of mine) {
      if (this._conn) this._writeSend(entry);
      else this._queue.push(entry); // a failure callback closed the socket
    }
  }

  _status(entry, status, detail) {
    this._call(entry.onStatus, status, detail);
    this._emit('send', { topic: entry.topic, event: entry.event, client_id: entry.client_id, status, detail });
  }

  _settleSend(entry, status, payload) {
    if (entry.done) return;
    entry.done = true;
    this._status(entry, status, payload);
    entry.resolve(payload);
  }

  _failSend(entry, err) {
    if (entry.done) return;
    entry.done = true;
    this._status(entry, 'failed', err);
    entry.reject(err);
  }

  _newId() {
    const c = globalThis.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not. (Not the
    // injectable `random`: tests pin that to a constant.)
    const bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // -- ping -----------------------------------------------------------------

  /**
   * Round trip to the server.
   * @returns {Promise<number>} ms; rejects ('not_connected', 'disconnected').
   */
  ping() {
    const conn = this._conn;
    if (!conn?.ready) return Promise.reject(makeError(ERROR.NOT_CONNECTED, 'not connected'));
    return new Promise((resolve, reject) => {
      this._write(conn, OP.PING, {}, { kind: 'ping', start: this._now(), resolve, reject });
    });
  }
}

export default RealtimeClient;
