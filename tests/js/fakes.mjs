// Test doubles for static/realtime/client.js: a manual clock and a scriptable
// WebSocket whose "server side" the tests drive frame by frame.

import { RealtimeClient } from '../../static/realtime/client.js';

/** Timers that only fire when the test advances time. */
export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.ids = 0;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = ++this.ids;
      this.timers.set(id, { id, at: this.t + Math.max(0, Number(ms) || 0), fn });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Advance time by ms, firing due timers in time order (ties: creation order). */
  tick(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const t of this.timers.values()) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

/** A fresh WebSocket class per test, with the list of sockets it created. */
export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    /** How many of the next constructions throw, as a browser does for a
     * blocked (CSP: SecurityError) or malformed (SyntaxError) URL. */
    static refuse = 0;

    constructor(url) {
      if (FakeWebSocket.refuse > 0) {
        FakeWebSocket.refuse--;
        throw new DOMException(`Failed to construct 'WebSocket': refused ${url}`, 'SecurityError');
      }
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closed = null; // {code, reason} when the client closed it
      sockets.push(this);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(JSON.parse(text));
    }

    close(code = 1000, reason = '') {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.closed = { code, reason };
    }

    // --- server side -------------------------------------------------------

    serverOpen(hello = {}) {
      this.readyState = 1;
      this.onopen?.({});
      this.receive({
        op: 'hello',
        protocol: 1,
        conn: `c${sockets.indexOf(this)}`,
        user: null,
        heartbeat: 25,
        limits: { max_frame_bytes: 65536, max_topics: 100 },
        ...hello,
      });
    }

    receive(frame) {
      this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }

    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: true });
    }

    frames(op) {
      return this.sent.filter((f) => !op || f.op === op);
    }

    last(op) {
      const f = this.frames(op);
      return f[f.length - 1];
    }

    reply(frame, payload = {}) {
      this.receive({ op: 'reply', ref: frame.ref, ok: true, payload });
    }

    /**
     * Answer a join as the real server does for a replayable topic: `missed`,
     * `reset` and `seq`, the topic's last seq when the join was answered
     * (docs/protocol.md section 8, "Stream head in join replies").
     */
    replyJoin(frame, { seq, missed = [], reset = false, ...payload } = {}) {
      if (!Number.isInteger(seq)) throw new TypeError('replyJoin: seq (the stream head) is required');
      this.reply(frame, { ...payload, missed, reset, seq });
    }

    replyError(frame, code, fields) {
      this.receive({ op: 'reply', ref: frame.ref, ok: false, error: { code, message: code, ...(fields ? { fields } : {}) } });
    }
  }
  return { WS: FakeWebSocket, sockets };
}

/** Let promise callbacks (async token functions, awaited joins) run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A client wired to fakes; autoConnect off so each test controls the start. */
export function setup(options = {}) {
  const clock = new FakeClock();
  const { WS, sockets } = fakeWebSocketClass();
  const net = new EventTarget();
  const client = new RealtimeClient({
    url: 'ws://test.local/ws/',
    WebSocket: WS,
    autoConnect: false,
    random: () => 0.5,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    eventTarget: net,
    // These tests drive one WebSocket; the HTTP fallback has its own (transport_http.test.mjs).
    transports: ['websocket'],
    ...options,
  });
  const states = [];
  const closes = [];
  client.on('state', (s) => states.push(s));
  client.on('close', (c) => closes.push(c));
  return {
    client,
    clock,
    WS,
    sockets,
    net,
    states,
    closes,
    get ws() {
      return sockets[sockets.length - 1];
    },
  };
}

/** connect() and let the server say hello (no token configured). */
export function connectOpen(env, hello) {
  env.client.connect();
  env.ws.serverOpen(hello);
}

/** A live/missed event frame. */
export function ev(topic, seq, event = 'message.created') {
  const f = { op: 'event', topic, event, payload: { n: seq } };
  if (seq !== undefined && seq !== null) f.seq = seq;
  return f;
}

/** An unsigned JWT carrying exp (seconds) and any other claims. */
export function jwt(claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.sig`;
}
