// The HTTP transport (static/realtime/transport_http.js) and the client's fallback to it:
// WebSocket first, SSE when it does not open, long polling without EventSource, and the
// background probe that moves the client back to WebSocket.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { HttpSocket, csrfToken, httpBase } from '../../static/realtime/transport_http.js';
import { flush, setup } from './fakes.mjs';

const HELLO = { op: 'hello', protocol: 1, conn: 'h1', user: null, heartbeat: 25, limits: { max_frame_bytes: 65536, max_topics: 100 } };

/** fetch whose responses the test gives, request by request. */
function fakeFetch() {
  const calls = [];
  const fetch = (url, init = {}) =>
    new Promise((resolve, reject) => {
      calls.push({ url: String(url), method: init.method ?? 'GET', init, resolve, reject });
    });
  const respond = (call, status, body = null) =>
    call.resolve({ status, json: async () => body });
  const next = async (method, path) => {
    for (let i = 0; i < 20; i++) {
      const index = calls.findIndex((c) => !c.taken && c.method === method && c.url.includes(path));
      if (index >= 0) {
        calls[index].taken = true;
        return calls[index];
      }
      await flush();
    }
    throw new Error(`no ${method} ${path} request; got ${calls.map((c) => `${c.method} ${c.url}`).join(', ')}`);
  };
  return { fetch, calls, respond, next };
}

function fakeEventSourceClass() {
  const sources = [];
  class FakeEventSource {
    constructor(url, options) {
      this.url = url;
      this.options = options;
      this.readyState = 0;
      this.listeners = new Map();
      this.closed = false;
      this.lastId = 0;
      sources.push(this);
    }
    addEventListener(name, fn) {
      this.listeners.set(name, fn);
    }
    close() {
      this.closed = true;
      this.readyState = 2;
    }
    // --- server side
    emit(frame) {
      this.readyState = 1;
      this.onmessage?.({ data: JSON.stringify(frame), lastEventId: String(++this.lastId) });
    }
    emitClose(code) {
      this.listeners.get('close')?.({ data: JSON.stringify({ code }) });
    }
    fail() {
      this.readyState = 2;
      this.onerror?.({});
    }
  }
  return { ES: FakeEventSource, sources };
}

function fallbackSetup(options = {}) {
  const http = fakeFetch();
  const { ES, sources } = fakeEventSourceClass();
  const env = setup({
    transports: ['websocket', 'sse', 'poll'],
    fallbackAfter: 3000,
    probeInterval: 20000,
    fetch: http.fetch,
    EventSource: ES,
    ...options,
  });
  const transports = [];
  env.client.on('transport', (name) => transports.push(name));
  return Object.assign(env, { http, sources, transports });
}

async function openSse(env) {
  const created = await env.http.next('POST', '/rt/session');
  env.http.respond(created, 201, { session: 's3cr3t' });
  for (let i = 0; i < 10 && env.sources.length === 0; i++) await flush();
  const source = env.sources[env.sources.length - 1];
  assert.equal(source.url, 'http://test.local/rt/events?session=s3cr3t');
  source.emit(HELLO);
  return source;
}

describe('fallback to the HTTP transport', () => {
  test('a WebSocket without hello within fallbackAfter falls back to SSE at once; the app code is unchanged', async () => {
    const env = fallbackSetup();
    env.client.connect();
    env.ws.readyState = 1; // a proxy that accepts and then says nothing
    env.clock.tick(2999);
    assert.equal(env.http.calls.length, 0);
    env.clock.tick(1);
    assert.equal(env.sockets[0].closed.reason, 'fallback');
    const source = await openSse(env);
    assert.equal(env.client.state, 'open');
    assert.equal(env.client.transport, 'sse');
    assert.deepEqual(env.transports, ['sse']);

    const joined = env.client.join('chat:1', {}, {});
    const post = await env.http.next('POST', '/rt/send?session=s3cr3t');
    assert.equal(post.init.headers['Content-Type'], 'text/plain');
    const [frame] = JSON.parse(post.init.body);
    assert.equal(frame.op, 'join');
    assert.equal(frame.topic, 'chat:1');
    env.http.respond(post, 202);
    source.emit({ op: 'reply', ref: frame.ref, ok: true, payload: { missed: [], reset: false, seq: 4 } });
    assert.deepEqual(await joined, { missed: [], reset: false, seq: 4 });
  });

  test('a WebSocket that closes before hello twice falls back; once is a plain retry', async () => {
    const env = fallbackSetup();
    env.client.connect();
    env.ws.serverClose(1006);
    env.clock.tick(500);
    assert.equal(env.sockets.length, 2, 'first failure: WebSocket again');
    env.ws.serverClose(1006);
    env.clock.tick(1000);
    assert.equal(env.sockets.length, 2);
    await openSse(env);
    assert.equal(env.client.transport, 'sse');
  });

  test('after a WebSocket worked, failures during a server restart stay on WebSocket', () => {
    const env = fallbackSetup();
    env.client.connect();
    env.ws.serverOpen();
    env.ws.serverClose(1006); // the server goes away
    let refused = 0;
    for (let t = 0; t < 60000; t += 100) {
      env.clock.tick(100);
      if (env.ws.readyState === 0) {
        env.ws.serverClose(1006); // and refuses connections for a minute
        refused++;
      }
    }
    assert.ok(refused >= 3);
    assert.equal(env.http.calls.length, 0, 'no HTTP session');
    while (env.ws.readyState !== 0) env.clock.tick(100); // the next attempt: the server is back
    env.ws.serverOpen();
    assert.equal(env.client.transport, 'websocket');
    assert.equal(env.client.state, 'open');
  });

  test('without EventSource the HTTP transport long-polls with the same cursor numbering', async () => {
    const env = fallbackSetup({ transports: ['sse'], EventSource: undefined });
    env.client._ES = undefined;
    env.client.connect();
    const created = await env.http.next('POST', '/rt/session');
    env.http.respond(created, 201, { session: 'p0ll' });
    const first = await env.http.next('GET', '/rt/poll?session=p0ll&cursor=0');
    env.http.respond(first, 200, { frames: [HELLO], cursor: 1 });
    const second = await env.http.next('GET', '/rt/poll?session=p0ll&cursor=1');
    assert.equal(env.client.state, 'open');
    env.http.respond(second, 200, { frames: [], cursor: 1, close: 4403 });
    await flush();
    await flush();
    assert.equal(env.closes[env.closes.length - 1].code, 4403);
    assert.equal(env.client.state, 'closed');
  });

  test('on SSE the client probes WebSocket and moves back, re-joining with since; nothing is lost', async () => {
    const env = fallbackSetup();
    env.client.connect();
    env.clock.tick(3000);
    const source = await openSse(env);
    const events = [];
    const joined = env.client.join('chat:1', {}, { onEvent: (event, payload) => events.push(payload.n) });
    const post = await env.http.next('POST', '/rt/send');
    env.http.respond(post, 202);
    const ref = JSON.parse(post.init.body)[0].ref;
    source.emit({ op: 'reply', ref, ok: true, payload: { missed: [], reset: false, seq: 1 } });
    await joined;
    source.emit({ op: 'event', topic: 'chat:1', event: 'message.created', payload: { n: 2 }, seq: 2 });

    const before = env.sockets.length;
    env.clock.tick(20000);
    assert.equal(env.sockets.length, before + 1, 'a probe socket');
    const probe = env.ws;
    probe.serverOpen();
    assert.ok(probe.closed, 'the probe is closed once it said hello');
    assert.ok(source.closed, 'the event stream is closed');
    await env.http.next('DELETE', '/rt/session?session=s3cr3t');
    const ws = env.ws;
    assert.notEqual(ws, probe);
    ws.serverOpen();
    assert.equal(env.client.transport, 'websocket');
    assert.deepEqual(env.transports, ['sse', 'websocket']);
    const rejoin = ws.last('join');
    assert.deepEqual(rejoin.params, { since: 2 });
    ws.replyJoin(rejoin, { seq: 3, missed: [{ op: 'event', topic: 'chat:1', event: 'message.created', payload: { n: 3 }, seq: 3 }] });
    assert.deepEqual(events, [2, 3]);
    assert.equal(env.client.state, 'open');
  });

  test('a probe that gets no hello is given up and retried later; the SSE connection stays', async () => {
    const env = fallbackSetup();
    env.client.connect();
    env.clock.tick(3000);
    await openSse(env);
    const before = env.sockets.length;
    env.clock.tick(20000);
    assert.equal(env.sockets.length, before + 1);
    env.clock.tick(3000);
    assert.ok(env.ws.closed, 'the silent probe is closed');
    assert.equal(env.client.transport, 'sse');
    env.clock.tick(20000);
    assert.equal(env.sockets.length, before + 2, 'probed again');
  });

  test('connect() starts over with WebSocket', async () => {
    const env = fallbackSetup();
    env.client.connect();
    env.clock.tick(3000);
    await openSse(env);
    const before = env.sockets.length;
    env.client.connect();
    assert.equal(env.sockets.length, before + 1);
    assert.equal(env.client.transport, 'websocket');
  });
});

describe('HttpSocket', () => {
  test('frames go out in order, one POST at a time, batched while one is in flight', async () => {
    const http = fakeFetch();
    const { ES } = fakeEventSourceClass();
    const socket = new HttpSocket('http://h/rt/', { fetch: http.fetch, EventSource: ES, csrf: () => 'tok' });
    socket.send('{"op":"ping","ref":"1"}'); // before the session exists: queued
    const created = await http.next('POST', '/rt/session');
    assert.equal(created.init.headers['X-CSRFToken'], 'tok');
    http.respond(created, 201, { session: 'id' });
    const first = await http.next('POST', '/rt/send?session=id');
    socket.send('{"op":"ping","ref":"2"}');
    socket.send('{"op":"ping","ref":"3"}');
    await flush();
    assert.equal(http.calls.filter((c) => c.url.includes('/rt/send')).length, 1, 'one request at a time');
    http.respond(first, 202);
    const second = await http.next('POST', '/rt/send?session=id');
    assert.deepEqual(JSON.parse(second.init.body).map((f) => f.ref), ['2', '3']);
  });

  test('event: close ends it with the code; a refused send or a gone session is 1006', async () => {
    for (const end of ['close', 'send-404', 'stream-gone']) {
      const http = fakeFetch();
      const { ES, sources } = fakeEventSourceClass();
      const socket = new HttpSocket('http://h/rt/', { fetch: http.fetch, EventSource: ES, csrf: () => '' });
      const closed = new Promise((resolve) => {
        socket.onclose = resolve;
      });
      http.respond(await http.next('POST', '/rt/session'), 201, { session: 'id' });
      await flush();
      const source = sources[0];
      if (end === 'close') source.emitClose(4429);
      if (end === 'send-404') {
        socket.send('{"op":"ping","ref":"1"}');
        http.respond(await http.next('POST', '/rt/send'), 404, { code: 'not_found' });
      }
      if (end === 'stream-gone') source.fail();
      const { code } = await closed;
      assert.equal(code, end === 'close' ? 4429 : 1006, end);
      assert.ok(source.closed);
    }
  });

  test('a refused session (bad token, foreign origin) maps to the close codes', async () => {
    for (const [status, code] of [[401, 4401], [403, 4403], [500, 1006]]) {
      const http = fakeFetch();
      const socket = new HttpSocket('http://h/rt/', { fetch: http.fetch, EventSource: fakeEventSourceClass().ES });
      const closed = new Promise((resolve) => {
        socket.onclose = resolve;
      });
      http.respond(await http.next('POST', '/rt/session'), status, {});
      assert.equal((await closed).code, code);
    }
  });

  test('helpers: the CSRF cookie and the HTTP base of a WebSocket URL', () => {
    assert.equal(csrfToken('a=1; csrftoken=abc%3D; b=2'), 'abc=');
    assert.equal(csrfToken('a=1'), '');
    assert.equal(httpBase('wss://example.com/ws/'), 'https://example.com/rt/');
    assert.equal(httpBase('ws://127.0.0.1:8000/ws/?x=1'), 'http://127.0.0.1:8000/rt/');
  });
});
