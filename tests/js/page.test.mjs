// The page bootstrap (static/realtime/page.js) with the real client on the
// scripted fake server (fakes.mjs) and a minimal DOM (fake-dom.mjs).
// Run: node --test tests/js/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { RealtimeClient } from '../../static/realtime/client.js';
import {
  ConnectionIndicator,
  InboxDispatcher,
  LATENCY_INTERVAL_MS,
  NotificationPermission,
  connectionLabel,
  createNotify,
  indicatorView,
  latencyText,
  moduleUrl,
  mountModules,
  readConfig,
  startPage,
} from '../../static/realtime/page.js';
import { INBOX, TOPIC } from '../../static/realtime/protocol.js';
import { FakeDocument, builder } from './fake-dom.mjs';
import { connectOpen, fakeWebSocketClass, flush, setup, FakeClock } from './fakes.mjs';

/** setInterval/clearInterval on a FakeClock. */
function intervals(clock) {
  return {
    setInterval: (fn, ms) => {
      const handle = { id: null };
      const tick = () => {
        handle.id = clock.setTimeout(tick, ms);
        fn();
      };
      handle.id = clock.setTimeout(tick, ms);
      return handle;
    },
    clearInterval: (handle) => clock.clearTimeout(handle?.id),
  };
}

/** The header's indicator elements, as base.html renders them. */
function indicatorElements() {
  const doc = new FakeDocument();
  const h = builder(doc);
  const root = h('span', { id: 'connection', 'data-state': 'offline' });
  const label = h('span', { id: 'connection-state', className: 'conn' });
  const latency = h('span', { id: 'connection-latency', hidden: true });
  const retry = h('button', { id: 'connection-retry', hidden: true }, 'Retry now');
  root.append(label, latency, retry);
  doc.body.append(root);
  return { doc, root, label, latency, retry };
}

function pong(ws, frame) {
  ws.receive({ op: 'pong', ref: frame.ref, server_time: '2026-01-01T00:00:00Z' });
}

describe('indicator text', () => {
  test('connectionLabel maps client states to the indicator', () => {
    assert.equal(connectionLabel('open'), 'connected');
    assert.equal(connectionLabel('connecting'), 'connecting');
    assert.equal(connectionLabel('reconnecting'), 'reconnecting');
    assert.equal(connectionLabel('closed'), 'offline');
    assert.equal(connectionLabel('anything else'), 'offline');
  });

  test('latencyText rounds to whole ms and says <1 ms below one', () => {
    assert.equal(latencyText(23.4), '23 ms');
    assert.equal(latencyText(0), '<1 ms');
    assert.equal(latencyText(1500), '1500 ms');
    assert.equal(latencyText(null), '');
    assert.equal(latencyText(-1), '');
    assert.equal(latencyText(Number.NaN), '');
  });

  test('indicatorView: latency only while open, Retry only while reconnecting', () => {
    assert.deepEqual(indicatorView('open', 23), { state: 'open', label: 'connected', latency: '23 ms', canRetry: false });
    assert.deepEqual(indicatorView('open'), { state: 'open', label: 'connected', latency: '', canRetry: false });
    assert.deepEqual(indicatorView('reconnecting', 23), { state: 'reconnecting', label: 'reconnecting', latency: '', canRetry: true });
    assert.deepEqual(indicatorView('connecting', 23), { state: 'connecting', label: 'connecting', latency: '', canRetry: false });
    assert.deepEqual(indicatorView('closed'), { state: 'closed', label: 'offline', latency: '', canRetry: false });
    assert.equal(indicatorView('bogus').state, 'closed');
  });
});

describe('ConnectionIndicator', () => {
  function started() {
    const env = setup();
    const ui = indicatorElements();
    const indicator = new ConnectionIndicator(env.client, ui, intervals(env.clock)).start();
    return { env, ui, indicator };
  }

  test('shows each state as text and data-state', () => {
    const { env, ui } = started();
    assert.equal(ui.label.textContent, 'offline'); // the client has not started
    assert.equal(ui.root.dataset.state, 'closed');
    env.client.connect();
    assert.equal(ui.label.textContent, 'connecting');
    assert.equal(ui.label.dataset.state, 'connecting');
    env.ws.serverOpen();
    assert.equal(ui.label.textContent, 'connected');
    assert.equal(ui.root.dataset.state, 'open');
    env.ws.serverClose(1006);
    assert.equal(ui.label.textContent, 'reconnecting');
    assert.equal(ui.label.dataset.state, 'reconnecting');
    assert.equal(ui.retry.hidden, false);
  });

  test('pings right after open and shows the round trip, then every interval', async () => {
    const { env, ui, indicator } = started();
    connectOpen(env);
    const first = env.ws.last('ping');
    assert.ok(first, 'a ping right after open');
    assert.equal(ui.latency.hidden, true);
    env.clock.tick(23);
    pong(env.ws, first);
    await flush();
    assert.equal(indicator.latency, 23);
    assert.equal(ui.latency.textContent, '23 ms');
    assert.equal(ui.latency.hidden, false);
    assert.match(ui.root.title, /round trip 23 ms/);

    env.clock.tick(LATENCY_INTERVAL_MS - 23);
    const second = env.ws.last('ping');
    assert.notEqual(second.ref, first.ref, 'probed again after the interval');
    env.clock.tick(7);
    pong(env.ws, second);
    await flush();
    assert.equal(ui.latency.textContent, '7 ms');
  });

  test('a lost connection hides the latency, offers Retry now, and stops probing', async () => {
    const { env, ui } = started();
    connectOpen(env);
    pong(env.ws, env.ws.last('ping'));
    await flush();
    assert.equal(ui.latency.hidden, false);
    const oldWs = env.ws;
    oldWs.serverClose(1006);
    assert.equal(ui.latency.hidden, true);
    assert.equal(ui.latency.textContent, '');
    assert.equal(ui.retry.hidden, false);
    const pingsBefore = oldWs.frames('ping').length;
    env.clock.tick(LATENCY_INTERVAL_MS * 3 - 1); // the reconnect timer opens a new socket meanwhile
    assert.equal(oldWs.frames('ping').length, pingsBefore);
  });

  test('Retry now reconnects at once instead of waiting out the backoff', () => {
    const { env, ui } = started();
    connectOpen(env);
    env.ws.serverClose(1006);
    const sockets = env.sockets.length;
    assert.ok(env.closes[0].delay > 0);
    ui.retry.click();
    assert.equal(env.sockets.length, sockets + 1, 'a new socket without any time passing');
    assert.equal(ui.label.textContent, 'connecting');
    assert.equal(ui.retry.hidden, true);
    env.ws.serverOpen();
    assert.equal(ui.label.textContent, 'connected');
  });

  test('a round trip that completes as its connection drops is not shown', async () => {
    const { env, ui, indicator } = started();
    connectOpen(env);
    pong(env.ws, env.ws.last('ping')); // resolves the probe in a microtask ...
    env.ws.serverClose(1006); // ... but the connection is gone first
    await flush();
    assert.equal(indicator.latency, null);
    env.clock.tick(env.closes[0].delay);
    env.ws.serverOpen();
    assert.equal(ui.label.textContent, 'connected');
    assert.equal(ui.latency.hidden, true, 'nothing measured on this connection yet');
    env.clock.tick(4);
    pong(env.ws, env.ws.last('ping'));
    await flush();
    assert.equal(ui.latency.textContent, '4 ms');
  });

  test('stop() unsubscribes and stops probing', () => {
    const { env, ui, indicator } = started();
    indicator.stop();
    connectOpen(env);
    assert.equal(ui.label.textContent, 'offline');
    assert.equal(env.ws.frames('ping').length, 0);
  });
});

describe('InboxDispatcher', () => {
  /** An open client whose inbox dispatcher has joined; `reply(payload)` answers the join. */
  function joinedInbox() {
    const env = setup();
    connectOpen(env, { user: { id: 1, username: 'ann' } });
    const inbox = new InboxDispatcher(env.client);
    return { env, inbox };
  }

  const inboxEvent = (seq, event, payload) => ({ op: 'event', topic: TOPIC.INBOX, event, payload, seq });

  test('start() joins the inbox once; ready resolves with the reply', async () => {
    const { env, inbox } = joinedInbox();
    const ready = inbox.start();
    assert.equal(inbox.start(), ready);
    assert.equal(inbox.enabled, true);
    const joins = env.ws.frames('join');
    assert.deepEqual(joins.map((f) => f.topic), ['inbox']);
    env.ws.reply(joins[0], { unread: { dms: 2 }, friends_online: [2], missed: [], reset: false, seq: 4 });
    assert.deepEqual((await inbox.ready).unread, { dms: 2 });
    assert.deepEqual(inbox.reply.friends_online, [2]);
  });

  test('an anonymous page joins nothing and ready is null', async () => {
    const env = setup();
    connectOpen(env);
    const inbox = new InboxDispatcher(env.client);
    let calls = 0;
    inbox.onJoin(() => calls++);
    inbox.on(INBOX.UNREAD, () => calls++);
    assert.equal(await inbox.ready, null);
    assert.equal(inbox.enabled, false);
    assert.equal(env.ws.frames('join').length, 0);
    await flush();
    assert.equal(calls, 0);
  });

  test('on(event) gets payload and frame of that event only, until unsubscribed', async () => {
    const { env, inbox } = joinedInbox();
    inbox.start();
    env.ws.reply(env.ws.last('join'), { missed: [], reset: false, seq: 0 });
    await inbox.ready;
    const unread = [];
    const all = [];
    const stop = inbox.on(INBOX.UNREAD, (payload, frame) => unread.push([payload.dms, frame.event]));
    inbox.on('*', (payload, frame) => all.push(frame.event));
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'unread', payload: { dms: 1 } });
    env.ws.receive(inboxEvent(1, 'dm.created', { message: { id: 5 } }));
    stop();
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'unread', payload: { dms: 0 } });
    assert.deepEqual(unread, [[1, 'unread']]);
    assert.deepEqual(all, ['unread', 'dm.created', 'unread']);
  });

  test('the same function subscribed twice is two subscriptions', async () => {
    const { env, inbox } = joinedInbox();
    inbox.start();
    env.ws.reply(env.ws.last('join'), { missed: [], reset: false });
    const seen = [];
    const fn = (payload) => seen.push(payload.n);
    const stopFirst = inbox.on('presence', fn);
    inbox.on('presence', fn);
    stopFirst();
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'presence', payload: { n: 1 } });
    assert.deepEqual(seen, [1]);
  });

  test('onJoin runs on every (re)join with {rejoin, reset}', async () => {
    const { env, inbox } = joinedInbox();
    const joins = [];
    inbox.onJoin((reply, info) => joins.push([reply.unread.dms, info]));
    inbox.start();
    env.ws.reply(env.ws.last('join'), { unread: { dms: 1 }, missed: [], reset: false, seq: 3 });
    env.ws.serverClose(1006);
    env.clock.tick(env.closes[0].delay);
    env.ws.serverOpen({ user: { id: 1 } });
    const rejoin = env.ws.last('join');
    assert.equal(rejoin.params.since, 3);
    env.ws.reply(rejoin, { unread: { dms: 0 }, missed: [], reset: true });
    assert.deepEqual(joins, [
      [1, { rejoin: false, reset: false }],
      [0, { rejoin: true, reset: true }],
    ]);
  });

  test('a late subscriber gets the latest reply, as its first join, in a microtask', async () => {
    const { env, inbox } = joinedInbox();
    inbox.start();
    env.ws.reply(env.ws.last('join'), { unread: { dms: 7 }, missed: [], reset: false });
    await inbox.ready;
    const late = [];
    inbox.onJoin((reply, info) => late.push([reply.unread.dms, info]));
    assert.deepEqual(late, [], 'not during onJoin(): the subscriber may not be set up yet');
    const gone = [];
    const stop = inbox.onJoin(() => gone.push(1));
    stop(); // unsubscribed before the replay ran
    await flush();
    assert.deepEqual(late, [[7, { rejoin: false, reset: false, late: true }]]);
    assert.deepEqual(gone, []);
  });

  test('a refused join rejects ready and tells onError subscribers once', async () => {
    const { env, inbox } = joinedInbox();
    const errors = [];
    inbox.onError((error) => errors.push(error.code));
    inbox.start();
    env.ws.replyError(env.ws.last('join'), 'unauthorized');
    await assert.rejects(inbox.ready, (error) => error.code === 'unauthorized');
    await flush();
    assert.deepEqual(errors, ['unauthorized']);
  });

  test('a throwing subscriber does not keep the others from their events', async () => {
    const { env, inbox } = joinedInbox();
    inbox.start();
    env.ws.reply(env.ws.last('join'), { missed: [], reset: false });
    const seen = [];
    const originalError = console.error;
    console.error = () => {};
    try {
      inbox.on('unread', () => {
        throw new Error('boom');
      });
      inbox.on('unread', (payload) => seen.push(payload.dms));
      env.ws.receive({ op: 'event', topic: 'inbox', event: 'unread', payload: { dms: 3 } });
    } finally {
      console.error = originalError;
    }
    assert.deepEqual(seen, [3]);
  });

  test('send() goes to the inbox topic through the client', async () => {
    const { env, inbox } = joinedInbox();
    inbox.start();
    env.ws.reply(env.ws.last('join'), { missed: [], reset: false });
    await inbox.ready;
    const sent = inbox.send(INBOX.DM_TYPING, { to: 2, typing: true }, { queue: false });
    const frame = env.ws.last('send');
    assert.equal(frame.topic, 'inbox');
    assert.equal(frame.event, 'dm.typing');
    assert.deepEqual({ to: frame.payload.to, typing: frame.payload.typing }, { to: 2, typing: true });
    env.ws.reply(frame, {});
    assert.deepEqual(await sent, {});
  });
});

describe('desktop notifications', () => {
  function fakeWindow(permission) {
    const shown = [];
    const win = {
      focused: false,
      location: { assigned: null, assign: (url) => (win.location.assigned = url) },
      focus: () => (win.focused = true),
      Notification: class {
        static permission = permission;
        static requestPermission() {
          win.Notification.permission = 'granted';
          return Promise.resolve('granted');
        }
        constructor(title, options) {
          this.title = title;
          this.options = options;
          shown.push(this);
        }
      },
    };
    return { win, shown };
  }

  test('notify shows only in a hidden tab with permission granted', () => {
    const { win, shown } = fakeWindow('granted');
    const doc = { hidden: false };
    const notify = createNotify({ window: win, document: doc });
    assert.equal(notify('Hi', { body: 'x' }), null, 'visible tab');
    doc.hidden = true;
    const notice = notify('Message from Ben', { body: 'Hi', tag: 'dm-2', url: '/chat/dm/ben/' });
    assert.equal(shown.length, 1);
    assert.equal(notice.title, 'Message from Ben');
    assert.deepEqual(notice.options, { body: 'Hi', tag: 'dm-2' }, 'url is ours, not the Notification API');
    notice.onclick();
    assert.equal(win.focused, true);
    assert.equal(win.location.assigned, '/chat/dm/ben/');

    for (const permission of ['default', 'denied']) {
      const other = fakeWindow(permission);
      assert.equal(createNotify({ window: other.win, document: doc })('Hi'), null);
      assert.equal(other.shown.length, 0);
    }
    assert.equal(createNotify({ window: {}, document: doc })('Hi'), null, 'no Notification API');
  });

  test('the permission button shows until the browser was asked, and asks', async () => {
    const { win } = fakeWindow('default');
    const doc = new FakeDocument();
    const h = builder(doc);
    const button = h('button', { hidden: true });
    const state = h('span');
    new NotificationPermission(win, { button, state }).start();
    assert.equal(button.hidden, false);
    assert.equal(state.textContent, '');
    button.click();
    await flush();
    assert.equal(button.hidden, true);
    assert.equal(state.textContent, 'Desktop notifications are on.');

    const denied = fakeWindow('denied');
    new NotificationPermission(denied.win, { button, state }).start();
    assert.equal(state.textContent, 'Desktop notifications are blocked.');
    new NotificationPermission({}, { button, state }).start();
    assert.equal(button.hidden, true);
    assert.equal(state.textContent, 'Desktop notifications are not available in this browser.');
  });
});

describe('app modules', () => {
  const PAGE = 'http://site.test/chat/';

  test('moduleUrl takes the page origin only', () => {
    assert.equal(moduleUrl('/static/chat/index.js', PAGE), 'http://site.test/static/chat/index.js');
    assert.equal(moduleUrl('../static/x.js', PAGE), 'http://site.test/static/x.js');
    assert.equal(moduleUrl('https://evil.test/x.js', PAGE), null);
    assert.equal(moduleUrl('//evil.test/x.js', PAGE), null);
    assert.equal(moduleUrl('', PAGE), null);
    assert.equal(moduleUrl(undefined, PAGE), null);
  });

  /** A page with module roots; `modules` maps a URL to its module (or an Error to fail the import). */
  function pageWith(roots, modules) {
    const doc = new FakeDocument();
    const h = builder(doc);
    const nodes = roots.map(({ module, config, json }) => {
      const node = h('div', { 'data-module': module, 'data-config': config });
      doc.body.append(node);
      if (json !== undefined) doc.body.append(h('script', { id: config, type: 'application/json' }, json));
      return node;
    });
    const imported = [];
    const importModule = async (url) => {
      imported.push(url);
      const mod = modules[url];
      if (mod instanceof Error) throw mod;
      return mod;
    };
    return { doc, nodes, imported, importModule };
  }

  test('readConfig parses the json_script the root names, {} without one', () => {
    const { doc, nodes } = pageWith([{ module: '/a.js', config: 'a-config', json: '{"mode": "index"}' }, { module: '/b.js' }], {});
    assert.deepEqual(readConfig(nodes[0], doc), { mode: 'index' });
    assert.deepEqual(readConfig(nodes[1], doc), {});
    nodes[1].dataset.config = 'missing';
    assert.throws(() => readConfig(nodes[1], doc), /no config element #missing/);
  });

  test('mountModules imports every module, then calls beforeMount, then each mount(root, config, rt, page) in order', async () => {
    const calls = [];
    const mod = (name) => ({
      mount: (root, config, rt, page) => {
        calls.push([name, root.dataset.module, config, rt, page]);
      },
    });
    const { doc, nodes, imported, importModule } = pageWith(
      [
        { module: '/static/a.js', config: 'a-config', json: '{"n": 1}' },
        { module: '/static/b.js' },
      ],
      { 'http://site.test/static/a.js': mod('a'), 'http://site.test/static/b.js': mod('b') },
    );
    const rt = { name: 'rt' };
    const page = { name: 'page' };
    const results = await mountModules(nodes, {
      rt,
      page,
      document: doc,
      pageUrl: PAGE,
      importModule,
      beforeMount: () => calls.push(['beforeMount', imported.length]),
    });
    assert.deepEqual(imported, ['http://site.test/static/a.js', 'http://site.test/static/b.js']);
    assert.deepEqual(calls, [
      ['beforeMount', 2],
      ['a', '/static/a.js', { n: 1 }, rt, page],
      ['b', '/static/b.js', {}, rt, page],
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, true]);
    assert.deepEqual(nodes.map((n) => n.dataset.mounted), ['true', 'true']);
  });

  test('one failing module (import, missing mount, throwing or rejecting mount, foreign URL) never stops the others', async () => {
    const ok = [];
    const { doc, nodes, importModule } = pageWith(
      [
        { module: '/broken.js' },
        { module: '/no-mount.js' },
        { module: '/throws.js' },
        { module: '/rejects.js' },
        { module: 'https://evil.test/x.js' },
        { module: '/fine.js' },
      ],
      {
        'http://site.test/broken.js': new Error('404'),
        'http://site.test/no-mount.js': {},
        'http://site.test/throws.js': {
          mount: () => {
            throw new Error('bad');
          },
        },
        'http://site.test/rejects.js': { mount: async () => Promise.reject(new Error('later')) },
        'http://site.test/fine.js': { mount: (root) => ok.push(root.dataset.module) },
      },
    );
    const originalError = console.error;
    console.error = () => {};
    let results;
    try {
      results = await mountModules(nodes, { rt: {}, page: {}, document: doc, pageUrl: PAGE, importModule });
    } finally {
      console.error = originalError;
    }
    assert.deepEqual(ok, ['/fine.js']);
    assert.deepEqual(results.map((r) => r.ok), [false, false, false, false, false, true]);
    assert.deepEqual(nodes.map((n) => n.dataset.mounted), ['failed', 'failed', 'failed', 'failed', 'failed', 'true']);
  });

  test('a mount that returns a promise counts as mounted once it resolves', async () => {
    let finish;
    const { doc, nodes, importModule } = pageWith([{ module: '/slow.js' }], {
      'http://site.test/slow.js': { mount: () => new Promise((resolve) => (finish = resolve)) },
    });
    const done = mountModules(nodes, { rt: {}, page: {}, document: doc, pageUrl: PAGE, importModule });
    await flush();
    assert.equal(nodes[0].dataset.mounted, undefined);
    finish();
    await done;
    assert.equal(nodes[0].dataset.mounted, 'true');
  });
});

describe('startPage', () => {
  /** A page as base.html renders it, with one app module root. */
  function fakePage({ signedIn }) {
    const doc = new FakeDocument();
    const h = builder(doc);
    const ui = indicatorElements();
    doc.body.append(ui.root);
    doc.body.append(h('button', { id: 'notify-permission', hidden: true }), h('span', { id: 'notify-state' }));
    doc.body.append(h('div', { id: 'app', 'data-module': '/static/app.js', 'data-config': 'app-config' }));
    doc.body.append(h('script', { id: 'app-config', type: 'application/json' }, '{"topic": "chat:9"}'));
    doc.body.append(h('script', { id: 'realtime-page', 'data-signed-in': signedIn ? 'true' : 'false' }));
    const win = { location: { href: 'http://site.test/' }, Notification: undefined };
    const { WS, sockets } = fakeWebSocketClass();
    const clock = new FakeClock();
    const timers = intervals(clock);
    const options = [];
    class Client extends RealtimeClient {
      constructor(o) {
        options.push(o);
        super({ ...o, url: 'ws://site.test/ws/', WebSocket: WS, autoConnect: false, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, eventTarget: null });
      }
    }
    const mounted = [];
    const importModule = async () => ({
      mount: (root, config, rt, page) => {
        mounted.push({ root, config, rt, page });
        // What an app module does: subscribe to the inbox and join its own topic.
        page.inbox.onJoin((reply) => mounted.push({ inboxReply: reply }));
        rt.join(config.topic);
      },
    });
    return { doc, win, sockets, options, mounted, importModule, Client, timers };
  }

  test('signed in: one client, the inbox joined before the modules topics, modules get (root, config, rt, page)', async () => {
    const t = fakePage({ signedIn: true });
    const { page, mounted } = startPage({ window: t.win, document: t.doc, Client: t.Client, importModule: t.importModule, ...t.timers });
    await mounted;
    assert.equal(t.options.length, 1, 'one client per page');
    assert.deepEqual(t.options[0], { backoff: { base: 500, cap: 8000 } }, 'no token: the session cookie signs the page in');
    assert.equal(page.signedIn, true);
    assert.equal(t.mounted[0].root.id, 'app');
    assert.deepEqual(t.mounted[0].config, { topic: 'chat:9' });
    assert.equal(t.mounted[0].rt, page.rt);
    assert.equal(t.mounted[0].page, page);
    assert.equal(typeof page.notify, 'function');
    assert.equal(t.doc.getElementById('connection-state').textContent, 'offline');

    page.rt.connect();
    assert.equal(t.doc.getElementById('connection-state').textContent, 'connecting');
    const ws = t.sockets[0];
    ws.serverOpen({ user: { id: 1 } });
    assert.deepEqual(ws.frames('join').map((f) => f.topic), ['inbox', 'chat:9']);
    ws.reply(ws.frames('join')[0], { unread: { dms: 0 }, missed: [], reset: false });
    assert.deepEqual(t.mounted[1], { inboxReply: { unread: { dms: 0 }, missed: [], reset: false } });
    assert.equal(t.doc.getElementById('app').dataset.mounted, 'true');
    assert.equal(t.doc.getElementById('notify-state').textContent, 'Desktop notifications are not available in this browser.');
  });

  test('anonymous: no inbox join, the indicator still follows the connection', async () => {
    const t = fakePage({ signedIn: false });
    const { page, mounted } = startPage({ window: t.win, document: t.doc, Client: t.Client, importModule: t.importModule, ...t.timers });
    await mounted;
    page.rt.connect();
    t.sockets[0].serverOpen();
    assert.deepEqual(t.sockets[0].frames('join').map((f) => f.topic), ['chat:9']);
    assert.equal(await page.inbox.ready, null);
    assert.equal(t.doc.getElementById('connection-state').textContent, 'connected');
    assert.equal(t.sockets[0].frames('ping').length, 1, 'latency probe after open');
  });
});
