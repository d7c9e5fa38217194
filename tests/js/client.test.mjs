// RealtimeClient against a scripted fake server (tests/js/fakes.mjs).
// Run: node --test tests/js/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { RealtimeClient } from '../../static/realtime/client.js';
import { setup, connectOpen, ev, flush, jwt } from './fakes.mjs';

/**
 * Outcome of a promise after one turn of the event loop, so a bug that leaves
 * it pending fails the test with a message instead of hanging the file.
 */
async function settled(p) {
  return Promise.race([
    p.then((value) => ({ value }), (error) => ({ error })),
    flush().then(() => ({ pending: true })),
  ]);
}

async function resolved(p) {
  const r = await settled(p);
  assert.ok(!r.pending, 'promise still pending');
  if (r.error) throw r.error;
  return r.value;
}

async function rejected(p) {
  const r = await settled(p);
  assert.ok(r.error, r.pending ? 'promise still pending, expected a rejection' : 'promise fulfilled, expected a rejection');
  return r.error;
}

/** Join `topic` on the open connection and answer with `payload`. */
async function joined(env, topic, params = {}, callbacks = {}, payload = { missed: [], reset: false }) {
  const p = env.client.join(topic, params, callbacks);
  const frame = env.ws.last('join');
  assert.equal(frame.topic, topic);
  env.ws.reply(frame, payload);
  return resolved(p);
}

/** Collects delivered seqs (or event names for ephemeral events) per topic. */
function recorder() {
  const got = [];
  const joins = [];
  return {
    got,
    joins,
    onEvent: (event, payload, frame) => got.push(frame.seq ?? event),
    onJoin: (payload, info) => joins.push(info),
  };
}

/** Drop the socket with `code` and run the reconnect timer (random() = 0.5). */
function dropAndReconnect(env, code = 1006) {
  const before = env.sockets.length;
  env.ws.serverClose(code);
  env.clock.tick(env.closes[env.closes.length - 1].delay);
  assert.equal(env.sockets.length, before + 1, 'a new socket was opened');
}

describe('connection and backoff', () => {
  test('state goes connecting -> open on hello; refs count per connection', () => {
    const env = setup();
    env.client.connect();
    assert.equal(env.client.state, 'connecting');
    assert.equal(env.ws.url, 'ws://test.local/ws/');
    env.ws.serverOpen({ user: { id: 7 } });
    assert.equal(env.client.state, 'open');
    assert.deepEqual(env.client.user, { id: 7 });
    env.client.join('a:1');
    env.client.join('a:2');
    assert.deepEqual(env.ws.frames('join').map((f) => f.ref), ['1', '2']);
    dropAndReconnect(env);
    assert.deepEqual(env.states, ['connecting', 'open', 'reconnecting']);
    env.ws.serverOpen();
    assert.deepEqual(env.states, ['connecting', 'open', 'reconnecting', 'open']);
    assert.deepEqual(env.ws.frames('join').map((f) => f.ref), ['1', '2'], 'refs restart on a new connection');
  });

  test('default url is derived from location', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'location');
    try {
      globalThis.location = { protocol: 'https:', host: 'example.com:8443' };
      assert.equal(new RealtimeClient({ autoConnect: false, WebSocket: class {} }).url, 'wss://example.com:8443/ws/');
      globalThis.location = { protocol: 'http:', host: 'localhost:8000' };
      assert.equal(new RealtimeClient({ autoConnect: false, WebSocket: class {} }).url, 'ws://localhost:8000/ws/');
    } finally {
      if (saved) Object.defineProperty(globalThis, 'location', saved);
      else delete globalThis.location;
    }
  });

  test('autoConnect connects in a microtask, after listeners were added', async () => {
    const env = setup({ autoConnect: true });
    assert.equal(env.sockets.length, 0);
    await flush();
    assert.equal(env.sockets.length, 1);
    assert.deepEqual(env.states, ['connecting']);
  });

  test('exponential backoff with jitter, capped, reset only after stableAfter', () => {
    const env = setup({ backoff: { base: 1000, cap: 8000 }, stableAfter: 10000 });
    env.client.connect();
    const delays = [];
    for (let i = 0; i < 5; i++) {
      env.ws.serverClose(1006); // never opened
      const { delay } = env.closes[env.closes.length - 1];
      delays.push(delay);
      const n = env.sockets.length;
      env.clock.tick(delay - 1);
      assert.equal(env.sockets.length, n, 'no reconnect before the delay');
      env.clock.tick(1);
      assert.equal(env.sockets.length, n + 1, 'reconnect at the delay');
    }
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000]); // random() = 0.5, cap 8000
    assert.equal(env.client.state, 'reconnecting');

    // Open but not for long enough: the counter keeps growing (still capped).
    env.ws.serverOpen();
    env.clock.tick(9999);
    env.ws.serverClose(1006);
    assert.equal(env.closes[env.closes.length - 1].delay, 4000);
    env.clock.tick(4000);

    // Open for stableAfter: back to the first step.
    env.ws.serverOpen();
    env.clock.tick(10000);
    env.ws.serverClose(1001);
    assert.equal(env.closes[env.closes.length - 1].delay, 500);
  });

  test('server close codes 1000, 1001, 1011, 4408 all back off and reconnect', () => {
    for (const code of [1000, 1001, 1011, 4408]) {
      const env = setup();
      connectOpen(env);
      env.ws.serverClose(code);
      assert.equal(env.client.state, 'reconnecting', `code ${code}`);
      assert.deepEqual(env.closes[0], { code, reason: '', reconnect: true, delay: 500 });
      env.clock.tick(500);
      assert.equal(env.sockets.length, 2, `code ${code}`);
    }
  });

  test('4429 reconnects after the cap delay', () => {
    const env = setup({ backoff: { base: 1000, cap: 20000 } });
    connectOpen(env);
    env.ws.serverClose(4429);
    assert.equal(env.closes[0].delay, 20000);
    env.clock.tick(19999);
    assert.equal(env.sockets.length, 1);
    env.clock.tick(1);
    assert.equal(env.sockets.length, 2);
  });

  for (const code of [4400, 4403]) {
    test(`${code} -> closed, close event, no reconnect, pending work rejected`, async () => {
      const env = setup();
      connectOpen(env);
      await joined(env, 'chat:1');
      const sent = env.client.send('chat:1', 'message.create', { body: 'x' });
      env.ws.serverClose(code, 'bye');
      assert.equal(env.client.state, 'closed');
      assert.deepEqual(env.closes, [{ code, reason: 'bye', reconnect: false, delay: null }]);
      const err = await rejected(sent);
      assert.equal(err.code, 'closed');
      assert.equal(err.closeCode, code);
      env.clock.tick(10 * 60 * 1000);
      assert.equal(env.sockets.length, 1, 'never reconnects');
      // A later send fails at once instead of waiting forever.
      assert.equal((await rejected(env.client.send('chat:1', 'message.create', { body: 'y' }))).code, 'closed');
      // The app may start again explicitly; topics are resumed.
      env.client.connect();
      env.ws.serverOpen();
      assert.equal(env.ws.last('join').topic, 'chat:1');
    });
  }

  test('close() -> closed, socket closed with 1000, no reconnect', () => {
    const env = setup();
    connectOpen(env);
    env.client.close();
    assert.equal(env.client.state, 'closed');
    assert.equal(env.ws.closed.code, 1000);
    env.ws.serverClose(1000); // the late close event of that socket is ignored
    env.clock.tick(60000);
    assert.equal(env.sockets.length, 1);
    assert.equal(env.client.state, 'closed');
  });

  test('connect() restarts with a fresh socket', () => {
    const env = setup();
    connectOpen(env);
    const first = env.ws;
    env.client.connect();
    assert.equal(first.closed.code, 1000);
    assert.equal(env.sockets.length, 2);
    assert.equal(env.client.state, 'connecting');
  });

  test('connect timeout: no hello -> close and reconnect', () => {
    const env = setup({ connectTimeout: 5000 });
    env.client.connect();
    env.ws.readyState = 1; // TCP open, but the server never says hello
    env.clock.tick(4999);
    assert.equal(env.ws.closed, null);
    env.clock.tick(1);
    assert.ok(env.sockets[0].closed);
    assert.equal(env.closes[0].reason, 'connect timeout');
    env.clock.tick(500);
    assert.equal(env.sockets.length, 2);
  });

  test('a WebSocket constructor that throws is logged and retried with backoff; queued joins go out once a socket opens', async (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const env = setup();
    env.WS.refuse = 2;
    const p = env.client.join('chat:1', { a: 1 });
    env.client.connect(); // must not throw into the app
    assert.equal(env.sockets.length, 0);
    assert.equal(env.client.state, 'reconnecting');
    assert.deepEqual(env.closes, [{ code: 1006, reason: 'connect failed', reconnect: true, delay: 500 }]);
    env.clock.tick(500);
    assert.equal(env.sockets.length, 0);
    assert.deepEqual(env.closes.map((c) => c.delay), [500, 1000], 'the backoff grows as for a failed socket');
    env.clock.tick(999);
    assert.equal(env.sockets.length, 0);
    env.clock.tick(1);
    assert.equal(env.sockets.length, 1);
    env.ws.serverOpen();
    assert.deepEqual(env.states, ['connecting', 'reconnecting', 'open']);
    const join = env.ws.last('join');
    assert.deepEqual(join.params, { a: 1 });
    env.ws.reply(join, { ok: 1 });
    assert.deepEqual(await resolved(p), { ok: 1 });
    assert.equal(logged.mock.callCount(), 2);
    assert.match(String(logged.mock.calls[0].arguments[0]), /cannot open socket/);
    assert.equal(logged.mock.calls[0].arguments[1].name, 'SecurityError');
  });
});

describe('heartbeat', () => {
  test('pings every heartbeat; no frame within heartbeat of a ping -> dead, reconnect', () => {
    const env = setup();
    connectOpen(env, { heartbeat: 2 });
    env.clock.tick(1999);
    assert.equal(env.ws.frames('ping').length, 0);
    env.clock.tick(1);
    const ping = env.ws.last('ping');
    assert.ok(ping && typeof ping.ref === 'string');
    env.clock.tick(1999);
    assert.equal(env.ws.closed, null, 'still within the pong window');
    assert.equal(env.client.state, 'open');
    env.clock.tick(1);
    assert.ok(env.sockets[0].closed, 'dead socket was closed');
    assert.equal(env.client.state, 'reconnecting');
    assert.equal(env.closes[0].reason, 'heartbeat timeout');
    env.clock.tick(env.closes[0].delay);
    assert.equal(env.sockets.length, 2);
  });

  test('a pong (or any frame) keeps the connection alive', () => {
    const env = setup();
    connectOpen(env, { heartbeat: 2 });
    env.clock.tick(2000); // first ping
    for (let i = 0; i < 5; i++) {
      const ping = env.ws.last('ping');
      env.clock.tick(1500); // late, but inside the heartbeat window
      if (i % 2) env.ws.receive(ev('chat:9', undefined, 'typing')); // any frame counts
      else env.ws.receive({ op: 'pong', ref: ping.ref, server_time: '2024-01-01T00:00:00Z' });
      env.clock.tick(500); // next ping
    }
    env.clock.tick(1999); // the 6th ping's window is still open
    assert.equal(env.ws.frames('ping').length, 6);
    assert.equal(env.ws.closed, null);
    assert.equal(env.client.state, 'open');
  });

  test('ping() resolves with the round trip; rejects when not connected or dropped', async () => {
    const env = setup();
    assert.equal((await rejected(env.client.ping())).code, 'not_connected');
    connectOpen(env);
    const p = env.client.ping();
    const frame = env.ws.last('ping');
    env.clock.tick(42);
    env.ws.receive({ op: 'pong', ref: frame.ref, server_time: '2024-01-01T00:00:00Z' });
    assert.equal(await resolved(p), 42);
    const lost = env.client.ping();
    env.ws.serverClose(1006);
    assert.equal((await rejected(lost)).code, 'disconnected');
  });
});

describe('online / offline', () => {
  test('online while waiting reconnects at once, keeping the attempt counter', () => {
    const env = setup();
    connectOpen(env);
    env.ws.serverClose(1006);
    assert.equal(env.closes[0].delay, 500);
    env.net.dispatchEvent(new Event('online'));
    assert.equal(env.sockets.length, 2, 'reconnected without waiting');
    env.clock.tick(500);
    assert.equal(env.sockets.length, 2, 'the backoff timer was cancelled');
    env.ws.serverClose(1006);
    assert.equal(env.closes[1].delay, 1000, 'attempt counter kept');
  });

  test('online while connected does nothing', () => {
    const env = setup();
    connectOpen(env);
    env.net.dispatchEvent(new Event('online'));
    assert.equal(env.sockets.length, 1);
    assert.equal(env.ws.closed, null);
  });

  test('offline closes the socket and waits for online', () => {
    const env = setup({ backoff: { base: 1000, cap: 30000 } });
    connectOpen(env);
    env.net.dispatchEvent(new Event('offline'));
    assert.ok(env.ws.closed);
    assert.equal(env.client.state, 'reconnecting');
    assert.equal(env.closes[0].reason, 'offline');
    env.clock.tick(20000);
    assert.equal(env.sockets.length, 1, 'no backoff retries while offline');
    env.net.dispatchEvent(new Event('online'));
    assert.equal(env.sockets.length, 2);
  });

  test('while offline every retry waits exactly the cap, never longer; online resumes the normal backoff', () => {
    const env = setup({ backoff: { base: 1000, cap: 8000 } });
    connectOpen(env);
    env.net.dispatchEvent(new Event('offline'));
    for (let i = 0; i < 5; i++) {
      const n = env.sockets.length;
      env.clock.tick(7999);
      assert.equal(env.sockets.length, n, `retry ${i + 1}: nothing before the cap`);
      env.clock.tick(1);
      assert.equal(env.sockets.length, n + 1, `retry ${i + 1}: a retry at the cap, in case 'online' never comes`);
      env.ws.serverClose(1006); // still no network
    }
    // Not the jittered backoff (500, 1000, 2000, 4000, 4000 here): the cap, flat.
    assert.deepEqual(env.closes.map((c) => c.delay), [8000, 8000, 8000, 8000, 8000, 8000]);
    assert.deepEqual(env.closes.map((c) => c.reason), ['offline', '', '', '', '', '']);
    assert.equal(env.client.state, 'reconnecting');
    env.net.dispatchEvent(new Event('online'));
    assert.equal(env.sockets.length, 7, 'online retries at once');
    env.ws.serverClose(1006);
    assert.equal(env.closes.at(-1).delay, 500, 'offline retries did not grow the backoff');
    env.clock.tick(500);
    env.ws.serverOpen();
    assert.equal(env.client.state, 'open');
  });

  test('close() stops listening to the network', () => {
    const env = setup();
    connectOpen(env);
    env.client.close();
    env.net.dispatchEvent(new Event('online'));
    assert.equal(env.sockets.length, 1);
  });
});

describe('events: order, dedupe, gaps', () => {
  test('repeated seqs are dropped; ephemeral events are delivered as they come', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    const global = [];
    env.client.on('event', (f) => global.push(f.seq ?? f.event));
    await joined(env, 'chat:1', {}, r);
    for (const s of [1, 2, 2, 1, 3]) env.ws.receive(ev('chat:1', s));
    env.ws.receive(ev('chat:1', null, 'typing'));
    env.ws.receive(ev('chat:1', null, 'typing'));
    env.ws.receive(ev('chat:1', 3));
    assert.deepEqual(r.got, [1, 2, 3, 'typing', 'typing']);
    assert.deepEqual(global, [1, 2, 3, 'typing', 'typing']);
  });

  test('onEvent gets (event, payload, frame)', async () => {
    const env = setup();
    connectOpen(env);
    const calls = [];
    await joined(env, 'chat:1', {}, { onEvent: (...args) => calls.push(args) });
    const frame = ev('chat:1', 5);
    env.ws.receive(frame);
    assert.deepEqual(calls, [['message.created', { n: 5 }, frame]]);
  });

  test('a gap triggers a re-join with since=last, then in-order delivery', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', { x: 1 }, r);
    env.ws.receive(ev('chat:1', 1));
    env.ws.receive(ev('chat:1', 3)); // 2 is missing
    assert.deepEqual(r.got, [1]);
    const rejoin = env.ws.last('join');
    assert.deepEqual(rejoin.params, { x: 1, since: 1 });
    env.ws.receive(ev('chat:1', 4)); // live, while the re-join is in flight: held
    env.ws.receive(ev('chat:1', 3));
    assert.deepEqual(r.got, [1]);
    env.ws.reply(rejoin, { missed: [ev('chat:1', 2), ev('chat:1', 3)], reset: false });
    assert.deepEqual(r.got, [1, 2, 3, 4]);
    env.ws.receive(ev('chat:1', 5));
    assert.deepEqual(r.got, [1, 2, 3, 4, 5]);
    assert.equal(env.ws.frames('join').length, 2, 'exactly one gap re-join');
  });

  test('a gap the server cannot fill ends in a reset instead of a re-join loop', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', {}, r);
    env.ws.receive(ev('chat:1', 1));
    env.ws.receive(ev('chat:1', 3));
    env.ws.reply(env.ws.last('join'), { missed: [], reset: false }); // no fill
    const resync = env.ws.last('join');
    assert.equal(env.ws.frames('join').length, 3);
    assert.deepEqual(resync.params, {}, 'resync join carries no since');
    env.ws.reply(resync, { missed: [], reset: false });
    assert.deepEqual(r.joins.at(-1), { rejoin: true, reset: true });
    assert.deepEqual(r.got, [1, 3], 'the held event re-anchors after the reset');
    assert.equal(env.ws.frames('join').length, 3);
  });

  test('events for a topic not joined (or left) are ignored', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', {}, r);
    env.ws.receive(ev('chat:2', 1));
    const left = env.client.leave('chat:1');
    env.ws.reply(env.ws.last('leave'));
    await resolved(left);
    env.ws.receive(ev('chat:1', 1));
    assert.deepEqual(r.got, []);
  });

  test('a throwing handler is logged and does not stop delivery', async (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const env = setup();
    connectOpen(env);
    const got = [];
    await joined(env, 'chat:1', {}, {
      onEvent: (e, p, f) => {
        got.push(f.seq);
        if (f.seq === 1) throw new Error('app bug');
      },
    });
    env.client.on('event', () => {
      throw new Error('listener bug');
    });
    env.ws.receive(ev('chat:1', 1));
    env.ws.receive(ev('chat:1', 2));
    assert.deepEqual(got, [1, 2]);
    assert.equal(logged.mock.callCount(), 3);
    assert.equal(env.client.state, 'open');
  });

  test('unparsable frames are ignored', async (t) => {
    t.mock.method(console, 'error', () => {});
    const env = setup();
    connectOpen(env);
    env.ws.receive('not json');
    env.ws.receive('[1,2]');
    assert.equal(env.client.state, 'open');
  });

  test('server error frames are emitted', () => {
    const env = setup();
    connectOpen(env);
    const errors = [];
    env.client.on('error', (f) => errors.push(f));
    const frame = { op: 'error', error: { code: 'bad_request', message: 'nope' } };
    env.ws.receive(frame);
    assert.deepEqual(errors, [frame]);
  });
});

describe('join, resume and reset', () => {
  test('join resolves with the reply payload; onJoin says first join', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    const payload = await joined(env, 'chat:1', {}, r, { channel: { id: 1 }, missed: [], reset: false });
    assert.deepEqual(payload.channel, { id: 1 });
    assert.deepEqual(r.joins, [{ rejoin: false, reset: false }]);
  });

  test('join error rejects with code and fields; the topic is forgotten', async () => {
    const env = setup();
    connectOpen(env);
    const p = env.client.join('share:abc', { password: 'x' });
    env.ws.replyError(env.ws.last('join'), 'invalid', { password: 'wrong' });
    const err = await rejected(p);
    assert.equal(err.code, 'invalid');
    assert.deepEqual(err.fields, { password: 'wrong' });
    assert.equal((await rejected(env.client.send('share:abc', 'comment.create', { message: 'hi' }))).code, 'not_joined');
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.equal(env.ws.frames('join').length, 0, 'not re-joined');
  });

  test('joins made while disconnected go out once open', async () => {
    const env = setup();
    const p = env.client.join('chat:1', { a: 1 });
    env.client.connect();
    assert.equal(env.ws.sent.length, 0);
    env.ws.serverOpen();
    const frame = env.ws.last('join');
    assert.deepEqual(frame.params, { a: 1 });
    env.ws.reply(frame, { ok: 1 });
    assert.deepEqual(await resolved(p), { ok: 1 });
  });

  test('reconnect re-joins with since=last seq merged into the params; missed fed in order, duplicates dropped', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', { x: 1 }, r);
    for (let s = 1; s <= 5; s++) env.ws.receive(ev('chat:1', s));
    dropAndReconnect(env);
    env.ws.serverOpen();
    const rejoin = env.ws.last('join');
    assert.deepEqual(rejoin.params, { x: 1, since: 5 });
    env.ws.receive(ev('chat:1', 8)); // live before the reply: held until after missed
    assert.deepEqual(r.got, [1, 2, 3, 4, 5]);
    env.ws.reply(rejoin, { missed: [ev('chat:1', 4), ev('chat:1', 5), ev('chat:1', 6), ev('chat:1', 7)], reset: false });
    assert.deepEqual(r.got, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(r.joins, [
      { rejoin: false, reset: false },
      { rejoin: true, reset: false },
    ]);
  });

  test('onJoin runs before the missed events of its reply', async () => {
    const env = setup();
    connectOpen(env);
    const order = [];
    await joined(env, 'chat:1', {}, {
      onJoin: (p, { rejoin }) => order.push(rejoin ? 'rejoin' : 'join'),
      onEvent: (e, p, f) => order.push(f.seq),
    });
    env.ws.receive(ev('chat:1', 1));
    dropAndReconnect(env);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('join'), { missed: [ev('chat:1', 2)], reset: false });
    assert.deepEqual(order, ['join', 1, 'rejoin', 2]);
  });

  test('no since is sent when no seq was seen', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'inbox', {});
    env.ws.receive(ev('inbox', null, 'unread'));
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.last('join').params, {});
  });

  test('an app-provided since anchors the tracker', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', { since: 10 }, r);
    env.ws.receive(ev('chat:1', 10));
    env.ws.receive(ev('chat:1', 11));
    assert.deepEqual(r.got, [11]);
  });

  test('reset: onJoin(reset) and the next live seq re-anchors, whatever it is', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', {}, r);
    env.ws.receive(ev('chat:1', 1));
    dropAndReconnect(env);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('join'), { missed: [], reset: true });
    assert.deepEqual(r.joins.at(-1), { rejoin: true, reset: true });
    env.ws.receive(ev('chat:1', 900));
    env.ws.receive(ev('chat:1', 901));
    env.ws.receive(ev('chat:1', 900));
    assert.deepEqual(r.got, [1, 900, 901]);
    env.ws.receive(ev('chat:1', 903));
    assert.deepEqual(env.ws.last('join').params, { since: 901 }, 'tracking continues from the new anchor');
    // And a later reconnect resumes from there.
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.last('join').params, { since: 901 });
  });

  test('a refused re-join forgets the topic and reports it', async () => {
    const env = setup();
    connectOpen(env);
    const errors = [];
    const reported = [];
    env.client.on('join_error', (e) => reported.push(e.topic));
    await joined(env, 'chat:1', {}, { onError: (e) => errors.push(e.code) });
    dropAndReconnect(env);
    env.ws.serverOpen();
    env.ws.replyError(env.ws.last('join'), 'forbidden');
    assert.deepEqual(errors, ['forbidden']);
    assert.deepEqual(reported, ['chat:1']);
    assert.equal((await rejected(env.client.send('chat:1', 'message.create', { body: 'x' }))).code, 'not_joined');
  });

  test('a re-join answered rate_limited is retried on the same socket after retry_after; nothing is lost or reported', async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    const errors = [];
    const reported = [];
    env.client.on('join_error', (e) => reported.push(e.topic));
    await joined(env, 'chat:1', { x: 1 }, { ...r, onError: (e) => errors.push(e.code) });
    for (let s = 1; s <= 3; s++) env.ws.receive(ev('chat:1', s));
    dropAndReconnect(env);
    env.ws.serverOpen();
    const sent = env.client.send('chat:1', 'message.create', { body: 'a' });
    env.ws.replyError(env.ws.last('join'), 'rate_limited', { retry_after: 2.5 });
    env.clock.tick(2499);
    assert.equal(env.ws.frames('join').length, 1, 'waits retry_after (2.5 s), not the 1 s base');
    env.clock.tick(1);
    const retry = env.ws.last('join');
    assert.equal(env.ws.frames('join').length, 2);
    assert.deepEqual(retry.params, { x: 1, since: 3 }, 'the retry resumes from the last seq');
    assert.equal(env.ws.frames('send').length, 0, 'the send waits for the re-join');
    env.ws.reply(retry, { missed: [ev('chat:1', 4)], reset: false });
    assert.deepEqual(r.got, [1, 2, 3, 4]);
    assert.deepEqual(r.joins, [
      { rejoin: false, reset: false },
      { rejoin: true, reset: false },
    ]);
    env.ws.reply(env.ws.last('send'), { message: { id: 1 } });
    assert.deepEqual(await resolved(sent), { message: { id: 1 } });
    assert.deepEqual(errors, []);
    assert.deepEqual(reported, []);
    assert.equal(env.sockets.length, 2, 'no reconnect');
    assert.equal(env.client.state, 'open');
  });

  test('a re-join answered server_error is retried after backoff.base, again if need be; a drop cancels the pending retry', async () => {
    const env = setup({ backoff: { base: 700, cap: 30000 } });
    connectOpen(env);
    const r = recorder();
    const reported = [];
    env.client.on('join_error', (e) => reported.push(e.topic));
    await joined(env, 'chat:1', {}, r);
    env.ws.receive(ev('chat:1', 1));
    dropAndReconnect(env);
    env.ws.serverOpen();
    env.ws.replyError(env.ws.last('join'), 'server_error');
    env.clock.tick(699);
    assert.equal(env.ws.frames('join').length, 1);
    env.clock.tick(1);
    assert.equal(env.ws.frames('join').length, 2);
    assert.deepEqual(env.ws.last('join').params, { since: 1 });
    env.ws.replyError(env.ws.last('join'), 'server_error'); // still failing: try again
    env.clock.tick(700);
    assert.equal(env.ws.frames('join').length, 3);
    env.ws.replyError(env.ws.last('join'), 'server_error');
    env.clock.tick(300);
    // The socket drops while the next retry is pending: the new connection
    // re-joins once, and the old connection's retry never fires.
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.equal(env.ws.frames('join').length, 1);
    env.clock.tick(5000);
    assert.equal(env.ws.frames('join').length, 1, 'no stray retry from the old connection');
    env.ws.reply(env.ws.last('join'), { missed: [ev('chat:1', 2)], reset: false });
    assert.deepEqual(r.got, [1, 2]);
    assert.deepEqual(reported, []);
  });

  test("a join reply's seq anchors the stream: the resume since starts there before any live event", async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    const p = env.client.join('chat:1', {}, r);
    const first = env.ws.last('join');
    assert.deepEqual(first.params, {});
    env.ws.replyJoin(first, { seq: 42, channel: { id: 1 } });
    assert.equal((await resolved(p)).seq, 42);
    dropAndReconnect(env); // before any live event
    env.ws.serverOpen();
    const rejoin = env.ws.last('join');
    assert.deepEqual(rejoin.params, { since: 42 });
    // The re-join's head is past its missed events: they are still delivered.
    env.ws.replyJoin(rejoin, { seq: 44, missed: [ev('chat:1', 43), ev('chat:1', 44)] });
    assert.deepEqual(r.got, [43, 44]);
    assert.deepEqual(r.joins, [
      { rejoin: false, reset: false },
      { rejoin: true, reset: false },
    ]);
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.last('join').params, { since: 44 });
  });

  test("with the reply's seq, a first live event past it is a gap to fill, not a new anchor", async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    const p = env.client.join('chat:1', {}, r);
    env.ws.replyJoin(env.ws.last('join'), { seq: 42 });
    await resolved(p);
    env.ws.receive(ev('chat:1', 42)); // already in the reply's state
    env.ws.receive(ev('chat:1', 44)); // 43 was lost
    assert.deepEqual(r.got, []);
    const fill = env.ws.last('join');
    assert.equal(env.ws.frames('join').length, 2);
    assert.deepEqual(fill.params, { since: 42 });
    env.ws.replyJoin(fill, { seq: 44, missed: [ev('chat:1', 43), ev('chat:1', 44)] });
    assert.deepEqual(r.got, [43, 44]);
    env.ws.receive(ev('chat:1', 45));
    assert.deepEqual(r.got, [43, 44, 45]);
  });

  test("reset: true with seq: tracking restarts from the reply's seq, not from the old position or the next live event", async () => {
    const env = setup();
    connectOpen(env);
    const r = recorder();
    await joined(env, 'chat:1', { since: 3 }, r); // the app's cached position
    for (let s = 4; s <= 5; s++) env.ws.receive(ev('chat:1', s));
    dropAndReconnect(env);
    env.ws.serverOpen();
    const rejoin = env.ws.last('join');
    assert.deepEqual(rejoin.params, { since: 5 });
    env.ws.replyJoin(rejoin, { seq: 900, reset: true });
    assert.deepEqual(r.joins.at(-1), { rejoin: true, reset: true });
    env.ws.receive(ev('chat:1', 900)); // part of the state the app reloads
    env.ws.receive(ev('chat:1', 902)); // 901 lost: a gap from 900
    assert.deepEqual(r.got, [4, 5]);
    const fill = env.ws.last('join');
    assert.deepEqual(fill.params, { since: 900 });
    env.ws.replyJoin(fill, { seq: 902, missed: [ev('chat:1', 901), ev('chat:1', 902)] });
    assert.deepEqual(r.got, [4, 5, 901, 902]);
    // A reset with no live event after it: the next resume starts at its seq.
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.last('join').params, { since: 902 });
    env.ws.replyJoin(env.ws.last('join'), { seq: 1500, reset: true });
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.last('join').params, { since: 1500 });
  });

  test('leave forgets the topic: no re-join after reconnect; a pending leave is rejected on drop', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    await joined(env, 'chat:2');
    const left = env.client.leave('chat:1');
    assert.equal(env.ws.last('leave').topic, 'chat:1');
    env.ws.serverClose(1006);
    assert.equal((await rejected(left)).code, 'disconnected');
    env.clock.tick(env.closes[0].delay);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.frames('join').map((f) => f.topic), ['chat:2']);
    // Leaving while disconnected resolves at once.
    env.ws.serverClose(1006);
    await resolved(env.client.leave('chat:2'));
  });
});

describe('sends', () => {
  test('client_id is added to object payloads, kept when present', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    const payload = { body: 'a' };
    env.client.send('chat:1', 'message.create', payload);
    assert.equal(typeof payload.client_id, 'string');
    assert.ok(payload.client_id.length >= 16);
    assert.equal(env.ws.last('send').payload.client_id, payload.client_id);
    env.client.send('chat:1', 'message.create', { body: 'b', client_id: 'mine' });
    assert.equal(env.ws.last('send').payload.client_id, 'mine');
    const other = { body: 'c' };
    env.client.send('chat:1', 'message.create', other);
    assert.notEqual(other.client_id, payload.client_id);
  });

  test('a send to a topic never joined rejects with not_joined without touching the network', async () => {
    const env = setup();
    connectOpen(env);
    const statuses = [];
    const onStatus = (s) => statuses.push(s);
    const err = await rejected(env.client.send('chat:9', 'message.create', { body: 'x' }, { onStatus }));
    assert.equal(err.code, 'not_joined');
    assert.deepEqual(statuses, ['failed']);
    assert.equal(env.ws.frames('send').length, 0);
  });

  test('sent while disconnected: queued, statuses sending -> sent, out in order after the join', async () => {
    const env = setup();
    env.client.join('chat:1');
    const statuses = [];
    const events = [];
    env.client.on('send', (e) => events.push(`${e.client_id}:${e.status}`));
    const onStatus = (s, d) => statuses.push([s, d]);
    const p1 = env.client.send('chat:1', 'message.create', { body: 'a', client_id: 'A' }, { onStatus });
    const p2 = env.client.send('chat:1', 'message.create', { body: 'b', client_id: 'B' });
    assert.deepEqual(statuses, [['sending', { client_id: 'A', queued: true }]]);
    env.client.connect();
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent.map((f) => f.op), ['join'], 'sends wait for the join reply');
    env.ws.reply(env.ws.last('join'));
    assert.deepEqual(env.ws.sent.map((f) => f.op), ['join', 'send', 'send']);
    const [s1, s2] = env.ws.frames('send');
    assert.deepEqual([s1.payload.body, s2.payload.body], ['a', 'b']);
    assert.equal(s1.topic, 'chat:1');
    assert.equal(s1.event, 'message.create');
    env.ws.reply(s1, { message: { id: 1 } });
    env.ws.reply(s2, { message: { id: 2 } });
    assert.deepEqual(await resolved(p1), { message: { id: 1 } });
    assert.deepEqual(await resolved(p2), { message: { id: 2 } });
    assert.deepEqual(statuses.map(([s]) => s), ['sending', 'sent']);
    assert.deepEqual(statuses[1][1], { message: { id: 1 } });
    assert.deepEqual(events, ['A:sending', 'B:sending', 'A:sent', 'B:sent']);
  });

  test('sends wait while the topic is re-joined after a reconnect', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    dropAndReconnect(env);
    env.ws.serverOpen();
    env.client.send('chat:1', 'message.create', { body: 'x' });
    assert.equal(env.ws.frames('send').length, 0);
    env.ws.reply(env.ws.last('join'));
    assert.equal(env.ws.frames('send').length, 1);
  });

  test('a send cut off by a drop is re-sent after the re-join with the same client_id', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    const statuses = [];
    const p = env.client.send('chat:1', 'message.create', { body: 'a' }, { onStatus: (s) => statuses.push(s) });
    const first = env.ws.last('send');
    env.ws.serverClose(1006);
    const queuedLater = env.client.send('chat:1', 'message.create', { body: 'b' });
    env.clock.tick(env.closes[0].delay);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('join'));
    const again = env.ws.frames('send');
    assert.equal(again.length, 2);
    assert.equal(again[0].payload.client_id, first.payload.client_id, 'same client_id');
    assert.equal(again[0].payload.body, 'a', 'in-flight send goes before later ones');
    assert.equal(again[1].payload.body, 'b');
    env.ws.reply(again[0], { message: { id: 1 } });
    env.ws.reply(again[1], { message: { id: 2 } });
    assert.deepEqual(await resolved(p), { message: { id: 1 } });
    await resolved(queuedLater);
    assert.deepEqual(statuses, ['sending', 'sent']);
  });

  test('the queue is bounded: a send beyond maxQueue fails at once with queue_full', async () => {
    const env = setup({ maxQueue: 2 });
    env.client.join('chat:1');
    const a = env.client.send('chat:1', 'message.create', { body: 'a' });
    const b = env.client.send('chat:1', 'message.create', { body: 'b' });
    const statuses = [];
    const onStatus = (s) => statuses.push(s);
    const err = await rejected(env.client.send('chat:1', 'message.create', { body: 'c' }, { onStatus }));
    assert.equal(err.code, 'queue_full');
    assert.deepEqual(statuses, ['failed']);
    connectOpen(env);
    env.ws.reply(env.ws.last('join'));
    assert.deepEqual(env.ws.frames('send').map((f) => f.payload.body), ['a', 'b']);
    for (const f of env.ws.frames('send')) env.ws.reply(f);
    await resolved(Promise.all([a, b]));
  });

  test('queue=false sends fail at once when not open or not yet re-joined, go out when ready', async () => {
    const env = setup();
    env.client.join('chat:1');
    const statuses = [];
    const onStatus = (s) => statuses.push(s);
    const err = await rejected(env.client.send('chat:1', 'typing', { typing: true }, { queue: false, onStatus }));
    assert.equal(err.code, 'not_connected');
    assert.deepEqual(statuses, ['failed']);
    connectOpen(env);
    assert.equal((await rejected(env.client.send('chat:1', 'typing', { typing: true }, { queue: false }))).code, 'not_connected');
    assert.equal(env.ws.frames('send').length, 0);
    env.ws.reply(env.ws.last('join'));
    env.client.send('chat:1', 'typing', { typing: true }, { queue: false });
    assert.equal(env.ws.last('send').event, 'typing');
  });

  test('a queue=false send cut off by a drop fails instead of being re-sent', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    const typing = env.client.send('chat:1', 'typing', { typing: true }, { queue: false });
    env.ws.serverClose(1006);
    assert.equal((await rejected(typing)).code, 'disconnected');
    env.clock.tick(env.closes[0].delay);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('join'));
    assert.equal(env.ws.frames('send').length, 0);
  });

  test('an error reply fails the send with code and fields', async () => {
    const env = setup();
    connectOpen(env);
    await joined(env, 'chat:1');
    const statuses = [];
    const p = env.client.send('chat:1', 'message.create', { body: '' }, { onStatus: (s, d) => statuses.push([s, d?.code]) });
    env.ws.replyError(env.ws.last('send'), 'invalid', { body: 'required' });
    const err = await rejected(p);
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'invalid');
    assert.deepEqual(err.fields, { body: 'required' });
    assert.deepEqual(statuses, [['sending', undefined], ['failed', 'invalid']]);
  });

  test('a frame over max_frame_bytes is failed locally, never sent', async () => {
    const env = setup();
    connectOpen(env, { limits: { max_frame_bytes: 300, max_topics: 100 } });
    await joined(env, 'chat:1');
    assert.equal((await rejected(env.client.send('chat:1', 'message.create', { body: 'é'.repeat(150) }))).code, 'too_large');
    assert.equal(env.ws.frames('send').length, 0);
    assert.equal(env.client.state, 'open');
  });

  test('4413: the offending frame is failed, not re-sent; others are; reconnect normally', async () => {
    const env = setup();
    connectOpen(env); // limits as the server measures them differ from ours
    await joined(env, 'chat:1');
    const big = env.client.send('chat:1', 'message.create', { body: 'big' });
    const small = env.client.send('chat:1', 'message.create', { body: 'small' });
    env.ws.serverClose(4413);
    assert.equal((await rejected(big)).code, 'too_large');
    assert.equal(env.closes[0].reconnect, true);
    assert.equal(env.closes[0].delay, 500);
    env.clock.tick(500);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('join'));
    assert.deepEqual(env.ws.frames('send').map((f) => f.payload.body), ['small']);
    env.ws.reply(env.ws.last('send'));
    await resolved(small);
  });
});

describe('authentication', () => {
  test('auth frame first, joins only after its reply; token never in the URL', async () => {
    const token = jwt({ exp: 1_700_000_000 + 3600, user_id: 7 });
    const env = setup({ token });
    env.client.join('chat:1');
    env.client.join('inbox');
    const authed = [];
    env.client.on('auth', (u) => authed.push(u));
    env.client.connect();
    assert.ok(!env.ws.url.includes(token) && !env.ws.url.includes('token'));
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent, [{ op: 'auth', ref: '1', token }]);
    assert.equal(env.client.state, 'connecting', 'not open before the auth reply');
    env.ws.reply(env.ws.sent[0], { user: { id: 7, username: 'ann' } });
    assert.equal(env.client.state, 'open');
    assert.deepEqual(authed, [{ id: 7, username: 'ann' }]);
    assert.deepEqual(env.ws.sent.map((f) => f.op), ['auth', 'join', 'join']);
    // And again on every reconnect.
    dropAndReconnect(env);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent.map((f) => f.op), ['auth']);
    env.ws.reply(env.ws.sent[0], { user: { id: 7 } });
    assert.deepEqual(env.ws.sent.map((f) => f.op), ['auth', 'join', 'join']);
  });

  test('4401: token function called with force, reconnect; a second 4401 without an open in between -> closed', async () => {
    const calls = [];
    let n = 0;
    const token = async ({ force }) => {
      calls.push(force);
      n++;
      return jwt({ exp: 1_700_000_000 + 3600, n });
    };
    const env = setup({ token });
    env.client.connect();
    await flush();
    assert.deepEqual(calls, [false]);
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    assert.equal(env.client.state, 'open');

    env.ws.serverClose(4401);
    assert.equal(env.client.state, 'reconnecting');
    env.clock.tick(0);
    await flush();
    assert.deepEqual(calls, [false, true]);
    assert.equal(env.sockets.length, 2);
    env.ws.serverOpen();
    assert.equal(env.ws.last('auth').token, jwt({ exp: 1_700_000_000 + 3600, n: 2 }), 'the refreshed token');
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    assert.equal(env.client.state, 'open');

    // Opened in between: a later 4401 gets another refresh, after a backoff
    // this time (the connection was not stable), so a server that 4401s right
    // after every auth cannot cause a tight loop.
    env.ws.serverClose(4401);
    assert.equal(env.closes.at(-1).delay, 1000); // attempt 1, random() = 0.5
    env.clock.tick(999);
    await flush();
    assert.equal(env.sockets.length, 2);
    env.clock.tick(1);
    await flush();
    assert.deepEqual(calls, [false, true, true]);
    assert.equal(env.sockets.length, 3);

    // Refreshed but closed with 4401 again before opening: stop.
    env.ws.serverClose(4401);
    assert.equal(env.client.state, 'closed');
    assert.deepEqual(env.closes.at(-1), { code: 4401, reason: '', reconnect: false, delay: null });
    env.clock.tick(600000);
    await flush();
    assert.equal(env.sockets.length, 3);
    assert.deepEqual(calls, [false, true, true]);
  });

  test('an auth reply with an error is handled like 4401', async () => {
    const calls = [];
    const env = setup({ token: ({ force }) => (calls.push(force), force ? 'fresh' : 'stale') });
    env.client.connect();
    await flush();
    env.ws.serverOpen();
    env.client.join('chat:1');
    env.ws.replyError(env.ws.last('auth'), 'unauthorized');
    assert.ok(env.sockets[0].closed, 'the anonymous socket is dropped');
    assert.equal(env.sockets[0].frames('join').length, 0, 'never joined anonymously');
    env.clock.tick(0);
    await flush();
    assert.deepEqual(calls, [false, true]);
    env.ws.serverOpen();
    assert.equal(env.ws.last('auth').token, 'fresh');
  });

  test('a token function returning null connects anonymously', async () => {
    const env = setup({ token: async () => null });
    env.client.connect();
    await flush();
    env.ws.serverOpen();
    assert.equal(env.client.state, 'open');
    assert.equal(env.ws.frames('auth').length, 0);
  });

  test('a fresh auth is sent on the same socket 30 s before expiry', async () => {
    const nowS = 1_700_000_000; // FakeClock's start, in seconds
    const calls = [];
    const tokens = [jwt({ exp: nowS + 300 }), jwt({ exp: nowS + 600 })];
    const env = setup({ token: async ({ force }) => (calls.push(force), tokens[Math.min(calls.length - 1, 1)]) });
    env.client.connect();
    await flush();
    env.ws.serverOpen({ heartbeat: 0 }); // no pings to answer in this test
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    env.clock.tick(269_999);
    await flush();
    assert.deepEqual(calls, [false]);
    env.clock.tick(1);
    await flush();
    assert.deepEqual(calls, [false, false]);
    assert.equal(env.sockets.length, 1, 'no reconnect');
    const auths = env.ws.frames('auth');
    assert.equal(auths.length, 2);
    assert.equal(auths[1].token, tokens[1]);
    env.ws.reply(auths[1], { user: { id: 7 } });
    // The next refresh is scheduled from the new token's expiry.
    env.clock.tick(299_999);
    await flush();
    assert.equal(calls.length, 2);
  });

  test('refresh asks again with force when the app returns the same token', async () => {
    const nowS = 1_700_000_000;
    const old = jwt({ exp: nowS + 100 });
    const fresh = jwt({ exp: nowS + 400 });
    const calls = [];
    const env = setup({ token: async ({ force }) => (calls.push(force), force ? fresh : old) });
    env.client.connect();
    await flush();
    env.ws.serverOpen({ heartbeat: 0 });
    env.ws.reply(env.ws.last('auth'), { user: null });
    env.clock.tick(80_000);
    await flush();
    await flush();
    assert.deepEqual(calls, [false, false, true]);
    assert.equal(env.ws.last('auth').token, fresh);
  });
});

describe('authentication: setToken', () => {
  test('setToken before connecting or while reconnecting: the next connection authenticates with it', async () => {
    const env = setup({ token: 'old' });
    await env.client.setToken('new');
    env.client.connect();
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent, [{ op: 'auth', ref: '1', token: 'new' }]);
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    env.ws.serverClose(1006);
    const calls = [];
    await env.client.setToken(async ({ force }) => (calls.push(force), 'from-fn'));
    env.clock.tick(env.closes.at(-1).delay);
    await flush();
    assert.deepEqual(calls, [false]);
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent, [{ op: 'auth', ref: '1', token: 'from-fn' }]);
  });

  test('setToken on an open connection sends auth on the same socket; the same user keeps every topic', async () => {
    const env = setup({ token: 'ann-1' });
    const authed = [];
    env.client.on('auth', (u) => authed.push(u));
    env.client.connect();
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('auth'), { user: { id: 7, username: 'ann' } });
    const r = recorder();
    await joined(env, 'chat:1', {}, r);
    env.ws.receive(ev('chat:1', 1));

    await env.client.setToken('ann-2');
    assert.deepEqual(env.ws.last('auth'), { op: 'auth', ref: '3', token: 'ann-2' });
    env.ws.reply(env.ws.last('auth'), { user: { id: 7, username: 'ann' } });
    const calls = [];
    await env.client.setToken(async ({ force }) => (calls.push(force), 'ann-3'));
    assert.deepEqual(calls, [false]);
    assert.equal(env.ws.last('auth').token, 'ann-3');
    env.ws.reply(env.ws.last('auth'), { user: { id: 7, username: 'ann' } });

    assert.deepEqual(authed, [{ id: 7, username: 'ann' }, { id: 7, username: 'ann' }, { id: 7, username: 'ann' }]);
    assert.equal(env.sockets.length, 1, 'no reconnect');
    assert.equal(env.ws.closed, null);
    assert.equal(env.ws.frames('join').length, 1, 'a fresh token for the same user needs no re-join');
    env.ws.receive(ev('chat:1', 2));
    assert.deepEqual(r.got, [1, 2]);
    // A reconnect uses the last token set.
    env.ws.serverClose(1006);
    env.clock.tick(env.closes.at(-1).delay);
    await flush();
    assert.deepEqual(calls, [false, false]);
    env.ws.serverOpen();
    assert.equal(env.ws.last('auth').token, 'ann-3');
  });

  test('setToken(null) on an open connection sends nothing; connect() then drops the identity', async () => {
    const env = setup({ token: 'ann' });
    env.client.connect();
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    await env.client.setToken(null);
    assert.equal(env.ws.frames('auth').length, 1);
    assert.deepEqual(env.client.user, { id: 7 });
    env.client.connect();
    env.ws.serverOpen();
    assert.equal(env.ws.frames('auth').length, 0);
    assert.equal(env.client.state, 'open');
    assert.equal(env.client.user, null);
  });

  test('setToken while connecting: that connection authenticates with the new token', async () => {
    // Socket created, no hello yet (e.g. the app restores a login right after `new`).
    const env = setup();
    env.client.connect();
    await env.client.setToken('bob');
    env.ws.serverOpen();
    assert.deepEqual(env.ws.sent, [{ op: 'auth', ref: '1', token: 'bob' }]);
    env.ws.reply(env.ws.last('auth'), { user: { id: 8 } });
    assert.equal(env.client.state, 'open');
    assert.deepEqual(env.client.user, { id: 8 });

    // Hello received, the old token's auth still unanswered.
    const env2 = setup({ token: 'ann' });
    env2.client.connect();
    env2.ws.serverOpen();
    assert.equal(env2.ws.last('auth').token, 'ann');
    await env2.client.setToken('bob');
    env2.ws.serverOpen();
    assert.equal(env2.ws.last('auth').token, 'bob');

    // A token function still being awaited when the token is replaced.
    let release;
    const env3 = setup({ token: () => new Promise((resolve) => (release = resolve)) });
    env3.client.connect();
    await flush();
    await env3.client.setToken('bob');
    release('ann');
    await flush();
    env3.ws.serverOpen();
    assert.deepEqual(env3.ws.frames('auth').map((f) => f.token), ['bob']);
  });

  test('setToken to another user on an open connection: the topics are joined again as that user, refused ones reported', async () => {
    const env = setup({ token: 'ann' });
    env.client.connect();
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('auth'), { user: { id: 7, username: 'ann' } });
    const r = recorder();
    const errors = [];
    const reported = [];
    env.client.on('join_error', (e) => reported.push(e.topic));
    await joined(env, 'chat:1', { x: 1 }, r);
    await joined(env, 'chat:2', {}, { onError: (e) => errors.push(e.code) });
    env.ws.receive(ev('chat:1', 1));

    await env.client.setToken('bob');
    const auth = env.ws.last('auth');
    assert.equal(auth.token, 'bob');
    assert.equal(env.ws.frames('join').length, 2);
    // The server leaves every topic of the previous user without an event
    // (docs/protocol.md section 8, `auth` reply); the client must re-join.
    env.ws.reply(auth, { user: { id: 8, username: 'bob' } });
    assert.deepEqual(env.client.user, { id: 8, username: 'bob' });
    const rejoins = env.ws.frames('join').slice(2);
    assert.deepEqual(rejoins.map((f) => [f.topic, f.params]), [['chat:1', { x: 1, since: 1 }], ['chat:2', {}]]);
    const sent = env.client.send('chat:1', 'message.create', { body: 'as bob' });
    assert.equal(env.ws.frames('send').length, 0, 'sends wait for the re-join');
    env.ws.reply(rejoins[0], { missed: [ev('chat:1', 2)], reset: false });
    assert.deepEqual(r.got, [1, 2]);
    assert.deepEqual(r.joins.at(-1), { rejoin: true, reset: false });
    env.ws.reply(env.ws.last('send'), { message: { id: 3 } });
    await resolved(sent);
    env.ws.replyError(rejoins[1], 'forbidden');
    assert.deepEqual(errors, ['forbidden']);
    assert.deepEqual(reported, ['chat:2']);
    assert.equal(env.sockets.length, 1);
  });
});

describe('authentication: failures', () => {
  for (const kind of ['throws', 'returns a rejected promise']) {
    test(`a token function that ${kind}: logged, no socket, retried with backoff, then connects`, async (t) => {
      const logged = t.mock.method(console, 'error', () => {});
      const calls = [];
      const token = ({ force }) => {
        calls.push(force);
        if (calls.length > 2) return 'good';
        const err = new Error('token endpoint down');
        if (kind === 'throws') throw err;
        return Promise.reject(err);
      };
      const env = setup({ token });
      env.client.connect();
      await flush();
      assert.deepEqual(calls, [false]);
      assert.equal(env.sockets.length, 0, 'no socket without a token');
      assert.equal(env.client.state, 'reconnecting');
      assert.deepEqual(env.closes, [{ code: 1006, reason: 'token unavailable', reconnect: true, delay: 500 }]);
      env.clock.tick(500);
      await flush();
      assert.deepEqual(calls, [false, false]);
      assert.equal(env.closes.at(-1).delay, 1000);
      env.clock.tick(999);
      await flush();
      assert.equal(calls.length, 2);
      env.clock.tick(1);
      await flush();
      assert.deepEqual(calls, [false, false, false]);
      assert.equal(env.sockets.length, 1);
      env.ws.serverOpen();
      assert.deepEqual(env.ws.sent, [{ op: 'auth', ref: '1', token: 'good' }]);
      env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
      assert.equal(env.client.state, 'open');
      assert.equal(logged.mock.callCount(), 2);
      assert.match(String(logged.mock.calls[0].arguments[0]), /token function failed/);
    });
  }

  test('after a 4401, a token function that rejects is asked with force again on the next attempt', async (t) => {
    t.mock.method(console, 'error', () => {});
    const calls = [];
    const token = async ({ force }) => {
      calls.push(force);
      if (calls.length === 2) throw new Error('refresh endpoint down');
      return force ? 'fresh' : 'stale';
    };
    const env = setup({ token });
    env.client.connect();
    await flush();
    env.ws.serverOpen();
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    env.ws.serverClose(4401);
    env.clock.tick(0);
    await flush();
    assert.deepEqual(calls, [false, true]);
    assert.equal(env.sockets.length, 1);
    assert.equal(env.closes.at(-1).reason, 'token unavailable');
    env.clock.tick(env.closes.at(-1).delay);
    await flush();
    assert.deepEqual(calls, [false, true, true]);
    env.ws.serverOpen();
    assert.equal(env.ws.last('auth').token, 'fresh');
  });

  test('a token function that rejects during a refresh leaves the connection open; the 4401 at expiry forces a new token', async (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const nowS = 1_700_000_000;
    const calls = [];
    const token = async ({ force }) => {
      calls.push(force);
      if (calls.length === 2) throw new Error('refresh endpoint down');
      return jwt({ exp: nowS + 300 * calls.length, n: calls.length });
    };
    const env = setup({ token });
    env.client.connect();
    await flush();
    env.ws.serverOpen({ heartbeat: 0 });
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    env.clock.tick(270_000);
    await flush();
    assert.deepEqual(calls, [false, false]);
    assert.match(String(logged.mock.calls.at(-1).arguments[0]), /token refresh failed/);
    assert.equal(env.ws.frames('auth').length, 1, 'nothing to send');
    assert.equal(env.client.state, 'open');
    assert.equal(env.ws.closed, null);
    env.clock.tick(29_999);
    await flush();
    assert.equal(calls.length, 2, 'no retry loop before expiry');
    env.ws.serverClose(4401); // the server at expiry
    env.clock.tick(0);
    await flush();
    assert.deepEqual(calls, [false, false, true]);
    env.ws.serverOpen({ heartbeat: 0 });
    assert.equal(env.ws.last('auth').token, jwt({ exp: nowS + 900, n: 3 }));
  });

  test('a refused refresh on an open connection: error event, one forced retry, the connection and identity stay', async () => {
    const nowS = 1_700_000_000;
    const calls = [];
    const tokens = [1, 2, 3, 4].map((n) => jwt({ exp: nowS + 300 * n, n }));
    const env = setup({ token: async ({ force }) => (calls.push(force), tokens[calls.length - 1]) });
    const errors = [];
    const authed = [];
    env.client.on('error', (e) => errors.push(e));
    env.client.on('auth', (u) => authed.push(u));
    env.client.connect();
    await flush();
    env.ws.serverOpen({ heartbeat: 0 });
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    const r = recorder();
    await joined(env, 'chat:1', {}, r);

    env.clock.tick(270_000);
    await flush();
    const refresh = env.ws.last('auth');
    assert.equal(refresh.token, tokens[1]);
    env.ws.replyError(refresh, 'unauthorized');
    assert.deepEqual(errors, [{ op: 'error', error: { code: 'unauthorized', message: 'unauthorized' } }]);
    await flush();
    assert.deepEqual(calls, [false, false, true], 'asked once more, bypassing the cache');
    const forced = env.ws.last('auth');
    assert.equal(forced.token, tokens[2]);
    env.ws.replyError(forced, 'unauthorized');
    await flush();
    assert.equal(errors.length, 2);
    assert.deepEqual(calls, [false, false, true], 'a refused forced refresh is not retried');
    assert.equal(env.ws.frames('auth').length, 3);

    // The old identity holds: same socket, same user, still joined.
    assert.equal(env.client.state, 'open');
    assert.equal(env.ws.closed, null);
    assert.equal(env.sockets.length, 1);
    assert.deepEqual(env.client.user, { id: 7 });
    assert.deepEqual(authed, [{ id: 7 }]);
    env.ws.receive(ev('chat:1', 1));
    assert.deepEqual(r.got, [1]);

    // At expiry the server closes 4401: a forced refresh and a reconnect.
    env.clock.tick(29_999);
    await flush();
    assert.equal(calls.length, 3, 'no new refresh scheduled from the refused token');
    env.ws.serverClose(4401);
    env.clock.tick(0);
    await flush();
    assert.deepEqual(calls, [false, false, true, true]);
    env.ws.serverOpen({ heartbeat: 0 });
    assert.equal(env.ws.last('auth').token, tokens[3]);
    env.ws.reply(env.ws.last('auth'), { user: { id: 7 } });
    assert.deepEqual(env.ws.last('join').params, { since: 1 });
  });
});

describe('client ids', () => {
  test('without crypto.randomUUID (insecure context) ids are still random hex', async () => {
    const saved = globalThis.crypto.randomUUID;
    try {
      globalThis.crypto.randomUUID = undefined;
      const env = setup(); // random() is pinned to 0.5: ids must not come from it
      connectOpen(env);
      await joined(env, 'chat:1', null);
      const a = {};
      const b = {};
      env.client.send('chat:1', 'message.create', a);
      env.client.send('chat:1', 'message.create', b);
      assert.match(a.client_id, /^[0-9a-f]{32}$/);
      assert.notEqual(a.client_id, b.client_id);
    } finally {
      globalThis.crypto.randomUUID = saved;
    }
  });
});
