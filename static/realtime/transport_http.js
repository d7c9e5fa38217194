/**
 * The HTTP transport of protocol v1 (docs/protocol.md 1.1), behind the interface of a
 * WebSocket (`onmessage`, `onclose`, `onerror`, `send`, `close`), so RealtimeClient runs
 * the same code on it: frames come from Server-Sent Events (`mode: 'sse'`) or long polls
 * (`mode: 'poll'`), and go out as `POST /rt/send` batches, one request at a time, in order.
 *
 * @module realtime/transport_http
 */

const ABNORMAL = 1006;
const MAX_BATCH = 100;

/** The CSRF cookie's value, for cookie-authenticated POSTs ('' when there is none). */
export function csrfToken(cookie = globalThis.document?.cookie ?? '') {
  for (const part of cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'csrftoken') return decodeURIComponent(rest.join('='));
  }
  return '';
}

/** `http(s)://host/rt/` for a WebSocket URL `ws(s)://host/ws/`. */
export function httpBase(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '/rt/';
  url.search = '';
  return url.href;
}

export class HttpSocket {
  /**
   * @param {string} base `http(s)://host/rt/`
   * @param {{mode?: 'sse'|'poll', fetch?: typeof fetch, EventSource?: any, csrf?: () => string}} [options]
   */
  constructor(base, options = {}) {
    this.base = base;
    this.mode = options.mode ?? 'sse';
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._ES = options.EventSource ?? globalThis.EventSource;
    this._csrf = options.csrf ?? (() => csrfToken());
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this.session = null;
    this._outbox = [];
    this._posting = false;
    this._done = false;
    this._es = null;
    this._cursor = 0;
    this._abort = typeof AbortController === 'function' ? new AbortController() : null;
    this._start();
  }

  _headers(extra = {}) {
    const token = this._csrf();
    return token ? { 'X-CSRFToken': token, ...extra } : extra;
  }

  _url(path, query = '') {
    return `${this.base}${path}?session=${encodeURIComponent(this.session)}${query}`;
  }

  async _start() {
    let response;
    try {
      response = await this._fetch(`${this.base}session`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: this._headers(),
        signal: this._abort?.signal,
      });
    } catch {
      this._finish(ABNORMAL);
      return;
    }
    if (this._done) return;
    if (response.status !== 201) {
      this._finish(response.status === 401 ? 4401 : response.status === 403 ? 4403 : ABNORMAL);
      return;
    }
    this.session = (await response.json()).session;
    if (this._done) return;
    if (this.mode === 'sse' && this._ES) this._openStream();
    else this._poll();
    this._flush();
  }

  _deliver(data) {
    if (!this._done) this.onmessage?.({ data });
  }

  _openStream() {
    const es = new this._ES(this._url('events'), { withCredentials: true });
    this._es = es;
    es.onmessage = (ev) => this._deliver(ev.data);
    es.addEventListener('close', (ev) => {
      let code = ABNORMAL;
      try {
        code = JSON.parse(ev.data).code;
      } catch {
        /* keep 1006 */
      }
      this._finish(code);
    });
    // EventSource reconnects by itself (with Last-Event-ID); once it gives up (the session
    // is gone: 404), the connection is lost.
    es.onerror = () => {
      if (es.readyState === 2) this._finish(ABNORMAL);
    };
  }

  async _poll() {
    let failures = 0;
    while (!this._done) {
      let response;
      try {
        response = await this._fetch(this._url('poll', `&cursor=${this._cursor}`), {
          credentials: 'same-origin',
          signal: this._abort?.signal,
        });
      } catch {
        if (this._done || ++failures > 2) break;
        continue;
      }
      if (response.status !== 200) break;
      failures = 0;
      const body = await response.json();
      for (const frame of body.frames) this._deliver(JSON.stringify(frame));
      this._cursor = body.cursor;
      if (body.close != null) {
        this._finish(body.close);
        return;
      }
    }
    this._finish(ABNORMAL);
  }

  /** Queues one frame (JSON text); frames go out in order, up to 100 per request. */
  send(text) {
    if (this._done) throw new Error('HttpSocket is closed');
    this._outbox.push(text);
    this._flush();
  }

  async _flush() {
    if (this._posting || !this.session || this._done || this._outbox.length === 0) return;
    this._posting = true;
    const batch = this._outbox.splice(0, MAX_BATCH);
    try {
      const response = await this._fetch(this._url('send'), {
        method: 'POST',
        credentials: 'same-origin',
        // text/plain: a "simple" request, no CORS preflight.
        headers: this._headers({ 'Content-Type': 'text/plain' }),
        body: `[${batch.join(',')}]`,
        signal: this._abort?.signal,
      });
      if (response.status !== 202) throw new Error(`send answered ${response.status}`);
    } catch {
      this._posting = false;
      this._finish(ABNORMAL);
      return;
    }
    this._posting = false;
    this._flush();
  }

  /** Ends the session (DELETE) and reports the close, as WebSocket.close() does. */
  close(code = 1000) {
    if (this._done) return;
    if (this.session) {
      this._fetch(this._url('session'), {
        method: 'DELETE',
        credentials: 'same-origin',
        headers: this._headers(),
        keepalive: true,
      }).catch(() => {});
    }
    this._finish(code);
  }

  _finish(code) {
    if (this._done) return;
    this._done = true;
    this._es?.close();
    this._abort?.abort();
    queueMicrotask(() => this.onclose?.({ code, reason: '' }));
  }
}
