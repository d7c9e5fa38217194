// The chat page modules (static/chat/*.js), importable without side effects:
// their logic against the minimal DOM (fake-dom.mjs), the real client on the
// scripted fake server (fakes.mjs) and the page bootstrap's inbox dispatcher.
// Run: node --test tests/js/
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { el } from '../../static/chat/dom.js';
import { mount } from '../../static/chat/index.js';
import { MessageList } from '../../static/chat/message-list.js';
import { Sidebar, badgeView } from '../../static/chat/sidebar.js';
import { TYPING_CLEAR_MS, TYPING_RESEND_MS, TypingLine, typingSender } from '../../static/chat/typing.js';
import { sortedMembers } from '../../static/chat/channel-page.js';
import { InboxDispatcher, createNotify } from '../../static/realtime/page.js';
import { FakeClock, connectOpen, flush, setup } from './fakes.mjs';
import { FakeDocument, builder, installDocument } from './fake-dom.mjs';

const ANN = { id: 1, username: 'ann', display_name: 'Ann' };
const BEN = { id: 2, username: 'ben', display_name: 'Ben' };
const CY = { id: 3, username: 'cy', display_name: '' };

let doc;
let restoreDocument;
beforeEach(() => {
  doc = new FakeDocument();
  restoreDocument = installDocument(doc);
});
afterEach(() => restoreDocument());

/** The `.chat` shell of templates/chat/layout.html (+ channel.html / dm.html). */
function chatShell(mode, { friends = [BEN], channels = [{ id: 10, name: 'general' }], peer = null } = {}) {
  const h = builder(doc);
  const badge = (count = 0) => h('span', { className: 'badge', 'data-count': count, hidden: !count }, String(count));
  const root = h(
    'div',
    { className: 'chat', 'data-mode': mode },
    h(
      'aside',
      { className: 'chat-side' },
      h('ul', { id: 'channel-list' }, ...channels.map((c) => h('li', { 'data-channel-id': c.id }, h('a', { href: `/chat/${c.id}/` }, `#${c.name}`), badge()))),
      h('h2', {}, 'Direct messages ', h('span', { className: 'badge', id: 'dm-unread-total', 'data-count': 0, hidden: true }, '0')),
      h(
        'ul',
        { id: 'friend-list' },
        ...friends.map((f) => h('li', { 'data-user-id': f.id, 'data-online': 'false' }, h('span', { className: 'dot', title: 'offline' }), h('a', {}, f.display_name), badge())),
      ),
    ),
  );
  if (mode !== 'index') {
    const title = h('header', { className: 'chat-title' }, h('h1', {}, mode === 'dm' ? peer.display_name : '#general'));
    if (mode === 'dm') title.append(h('p', {}, h('span', { id: 'peer-status', 'data-online': 'false' }, 'offline')));
    root.append(
      h(
        'section',
        { className: 'chat-main' },
        title,
        h('div', { id: 'message-log' }, h('button', { id: 'load-older', hidden: true }), h('ol', { id: 'messages' })),
        h('p', { id: 'typing' }),
        h('p', { id: 'chat-error', hidden: true }),
        h('form', { id: 'send-form' }, h('textarea', { id: 'message-input' }), h('button', { type: 'submit' }, 'Send')),
      ),
    );
    if (mode === 'channel') root.append(h('aside', {}, h('span', { id: 'online-count' }, '0'), h('ul', { id: 'online-list' })));
  } else {
    root.append(h('p', { id: 'chat-error', hidden: true }));
  }
  doc.body.append(root);
  return root;
}

/** Rendered message bodies, in order. */
const bodies = (root) => root.querySelectorAll('#messages .msg-body').map((node) => node.textContent);
const message = (root, text) => root.querySelectorAll('#messages .msg').find((node) => node.querySelector('.msg-body').textContent === text);

function channelMessage(seq, author, body, extra = {}) {
  return { id: 100 + seq, seq, channel: 10, author, body, client_id: `c${seq}`, created_at: '2026-01-01T10:00:00Z', edited_at: null, deleted: false, ...extra };
}

function dm(id, from, to, body, extra = {}) {
  return { id, from, to, body, client_id: `d${id}`, created_at: '2026-01-01T10:00:00Z', edited_at: null, read_at: null, deleted: false, ...extra };
}

describe('small pieces', () => {
  test('el() sets attributes and text and never parses HTML', () => {
    const node = el('li', { className: 'msg', 'data-id': 5, hidden: true, skipped: false, gone: null, text: '<b>hi</b>' });
    assert.equal(node.className, 'msg');
    assert.equal(node.getAttribute('data-id'), '5');
    assert.equal(node.getAttribute('hidden'), '');
    assert.equal(node.hasAttribute('skipped'), false);
    assert.equal(node.hasAttribute('gone'), false);
    assert.equal(node.textContent, '<b>hi</b>');
    assert.equal(node.children.length, 0);
    const parent = el('div', {}, node, null, el('span'));
    assert.equal(parent.children.length, 2);
  });

  test('badgeView shows up to 99, then 99+, hidden at 0', () => {
    assert.deepEqual(badgeView(0), { count: 0, text: '0', hidden: true });
    assert.deepEqual(badgeView('7'), { count: 7, text: '7', hidden: false });
    assert.deepEqual(badgeView(100), { count: 100, text: '99+', hidden: false });
    assert.deepEqual(badgeView(undefined), { count: 0, text: '0', hidden: true });
  });

  test('sortedMembers orders by shown name', () => {
    const presence = new Map([[3, CY], [2, BEN], [1, ANN]]);
    assert.deepEqual(sortedMembers(presence).map((u) => u.id), [1, 2, 3]);
  });
});

describe('Sidebar', () => {
  test('applyUnread sets channel badges, the DM total and each friend, from dms_by_user', () => {
    const root = chatShell('index', { friends: [BEN, CY] });
    const sidebar = new Sidebar(root);
    sidebar.applyUnread({ dms: 3, channels: { 10: 120 }, dms_by_user: { 2: 3 } });
    const channelBadge = root.querySelector('#channel-list [data-channel-id="10"] .badge');
    assert.equal(channelBadge.textContent, '99+');
    assert.equal(channelBadge.dataset.count, '120');
    assert.equal(channelBadge.hidden, false);
    assert.equal(root.querySelector('#dm-unread-total').textContent, '3');
    assert.equal(root.querySelector('#friend-list [data-user-id="2"] .badge').textContent, '3');
    assert.equal(root.querySelector('#friend-list [data-user-id="3"] .badge').hidden, true);
    // Absent from the counters means 0.
    sidebar.applyUnread({ dms: 0, channels: {}, dms_by_user: {} });
    assert.equal(channelBadge.hidden, true);
    assert.equal(root.querySelector('#friend-list [data-user-id="2"] .badge').hidden, true);
    sidebar.applyUnread(null); // ignored
  });

  test('friends online: the join snapshot replaces every dot; presence moves one, and the DM peer status', () => {
    const root = chatShell('dm', { friends: [BEN, CY], peer: BEN });
    const sidebar = new Sidebar(root, { peerId: BEN.id });
    const dot = (id) => root.querySelector(`#friend-list [data-user-id="${id}"]`);
    sidebar.applyFriendsOnline([2, 3]);
    assert.deepEqual([dot(2).dataset.online, dot(3).dataset.online], ['true', 'true']);
    assert.equal(root.querySelector('#peer-status').textContent, 'online');
    sidebar.applyFriendsOnline([3]);
    assert.deepEqual([dot(2).dataset.online, dot(3).dataset.online], ['false', 'true']);
    assert.equal(dot(2).querySelector('.dot').title, 'offline');
    assert.equal(root.querySelector('#peer-status').dataset.online, 'false');
    sidebar.setFriendOnline(2, true);
    assert.equal(dot(2).dataset.online, 'true');
    assert.equal(root.querySelector('#peer-status').textContent, 'online');
    sidebar.applyFriendsOnline(undefined); // ignored
    assert.equal(dot(2).dataset.online, 'true');
  });
});

describe('typing', () => {
  test('TypingLine names typers in order, never me, and clears after TYPING_CLEAR_MS', () => {
    const clock = new FakeClock();
    const node = doc.createElement('p');
    const line = new TypingLine(node, ANN, clock);
    line.set(BEN, true);
    line.set(ANN, true);
    assert.equal(node.textContent, 'Ben is typing…');
    clock.tick(1000);
    line.set(CY, true);
    assert.equal(node.textContent, 'Ben and cy are typing…');
    clock.tick(TYPING_CLEAR_MS - 1000);
    assert.equal(node.textContent, 'cy is typing…');
    line.set(CY, false);
    assert.equal(node.textContent, '');
  });

  test('typingSender: at once, again every TYPING_RESEND_MS, false when emptied or sent', () => {
    let t = 0;
    const input = doc.createElement('textarea');
    const sent = [];
    const stop = typingSender(input, (typing) => sent.push(typing), { now: () => t });
    input.type('H');
    input.type('He');
    t = TYPING_RESEND_MS;
    input.type('Hel');
    assert.deepEqual(sent, [true, true]);
    input.type('   ');
    assert.deepEqual(sent, [true, true, false]);
    input.type('x');
    stop();
    stop(); // nothing more: typing was already ended
    assert.deepEqual(sent, [true, true, false, true, false]);
  });
});

describe('MessageList', () => {
  function list({ topic = 'chat:10', sends = [] } = {}) {
    const container = doc.createElement('ol');
    const rt = {
      send: (...args) => {
        sends.push(args);
        return new Promise(() => {});
      },
    };
    const errors = [];
    const clock = new FakeClock();
    const messages = new MessageList(container, {
      me: ANN,
      rt,
      topic,
      updateEvent: 'message.update',
      deleteEvent: 'message.delete',
      resend: (entry) => sends.push(['resend', entry.msg.clientId]),
      showError: (text) => errors.push(text),
      setTimeout: clock.setTimeout,
    });
    return { container, messages, sends, errors, clock };
  }

  const texts = (container) => container.children.map((node) => node.querySelector('.msg-body').textContent);

  test('keeps confirmed messages ordered by key, pending ones at the end', () => {
    const { container, messages } = list();
    messages.upsert(channelMessage(3, BEN, 'three'));
    messages.addPending('mine-1', 'pending');
    messages.upsert(channelMessage(1, BEN, 'one'));
    messages.upsert(channelMessage(2, BEN, 'two'));
    assert.deepEqual(texts(container), ['one', 'two', 'three', 'pending']);
    assert.equal(messages.oldestKey(), 1);
    assert.equal(messages.newest().key, 3);
    assert.equal(messages.newest((m) => m.key < 3).key, 2);
  });

  test('our send reply and its live event meet in one entry, found by client_id', () => {
    const { container, messages } = list();
    const entry = messages.addPending('mine-1', 'hello');
    assert.equal(entry.node.dataset.status, 'sending');
    assert.equal(entry.statusNode.textContent, 'sending…');
    messages.upsert(channelMessage(5, ANN, 'hello', { client_id: 'mine-1' }), { current: false }); // the live event
    messages.upsert(channelMessage(5, ANN, 'hello', { client_id: 'mine-1' })); // the reply
    assert.deepEqual(texts(container), ['hello']);
    assert.equal(entry.node.dataset.id, '105');
    assert.equal(entry.node.dataset.status, 'sent');
    assert.equal(entry.node.classList.contains('mine'), true);
    messages.setStatus(entry, 'failed', { code: 'x' }); // too late: confirmed already
    assert.equal(entry.node.dataset.status, 'sent');
  });

  test('a replayed created event never undoes a later edit; a deletion hides the text', () => {
    const { container, messages } = list();
    messages.upsert(channelMessage(1, BEN, 'edited', { edited_at: '2026-01-01T10:01:00Z' }));
    messages.upsert(channelMessage(1, BEN, 'original'), { current: false });
    assert.deepEqual(texts(container), ['edited']);
    assert.equal(container.children[0].querySelector('.msg-edited').hidden, false);
    messages.upsert(channelMessage(1, BEN, '', { deleted: true }));
    assert.deepEqual(texts(container), ['message deleted']);
    assert.equal(container.children[0].classList.contains('deleted'), true);
  });

  test('user text is only ever text', () => {
    const { container, messages } = list();
    messages.upsert(channelMessage(1, { id: 9, username: '<img src=x onerror=alert(1)>' }, '<script>alert(1)</script>'));
    const node = container.children[0];
    assert.equal(node.querySelector('.msg-body').textContent, '<script>alert(1)</script>');
    assert.equal(node.querySelector('.msg-body').children.length, 0);
    assert.equal(node.querySelector('.msg-author').textContent, '<img src=x onerror=alert(1)>');
  });

  test('failed sends offer Retry; edit and a confirmed delete go over the topic', () => {
    const { container, messages, sends, clock } = list();
    const pending = messages.addPending('mine-1', 'oops');
    messages.setStatus(pending, 'failed', { code: 'forbidden', message: 'Only friends.' });
    assert.equal(pending.errorNode.textContent, 'Only friends.');
    pending.node.querySelector('.msg-retry').click();
    assert.deepEqual(sends.pop(), ['resend', 'mine-1']);

    const mine = messages.upsert(channelMessage(2, ANN, 'mine'));
    const theirs = messages.upsert(channelMessage(3, BEN, 'theirs'));
    assert.equal(theirs.node.querySelector('.msg-edit'), null, 'not my message');
    mine.node.querySelector('.msg-edit').click();
    const form = mine.node.querySelector('.msg-edit-form');
    form.querySelector('.msg-edit-input').value = 'mine, edited';
    form.requestSubmit();
    assert.deepEqual(sends.pop(), ['chat:10', 'message.update', { id: 102, body: 'mine, edited' }]);

    const own = messages.upsert(channelMessage(4, ANN, 'to delete'));
    own.node.querySelector('.msg-delete').click();
    assert.equal(own.node.querySelector('.msg-delete').textContent, 'Confirm delete');
    clock.tick(4000); // the confirmation expires
    assert.equal(own.node.querySelector('.msg-delete').textContent, 'Delete');
    own.node.querySelector('.msg-delete').click();
    own.node.querySelector('.msg-delete').click();
    assert.deepEqual(sends.pop(), ['chat:10', 'message.delete', { id: 104 }]);
    assert.equal(container.children.length, 4);
  });

  test('markMineRead marks my confirmed messages up to an id; clearConfirmed keeps pending ones', () => {
    const { container, messages } = list({ topic: 'inbox' });
    const first = messages.upsert(dm(5, ANN, BEN, 'one'));
    const second = messages.upsert(dm(7, ANN, BEN, 'two'));
    const theirs = messages.upsert(dm(6, BEN, ANN, 'theirs'));
    messages.addPending('mine-9', 'unsent');
    messages.markMineRead(6);
    assert.equal(first.node.dataset.read, 'true');
    assert.equal(first.statusNode.textContent, 'read');
    assert.equal(second.node.dataset.read, 'false');
    assert.equal(theirs.node.dataset.read, 'false');
    // An older payload (a replayed dm.created) does not undo the read mark.
    messages.upsert(dm(5, ANN, BEN, 'one'), { current: false });
    messages.upsert(dm(5, ANN, BEN, 'one', { read_at: null }));
    assert.equal(first.node.dataset.read, 'true');
    messages.clearConfirmed();
    assert.deepEqual(texts(container), ['unsent']);
  });
});

describe('mount (index.js) on a page with the bootstrap inbox', () => {
  /** The chat module mounted as page.js would: one client, an inbox dispatcher joined before the mount. */
  function mounted(mode, config, { hidden = false, shell = {} } = {}) {
    const root = chatShell(mode, shell);
    const env = setup();
    const inbox = new InboxDispatcher(env.client);
    const shown = [];
    const win = {
      focus() {},
      location: { assign() {} },
      Notification: class {
        static permission = 'granted';
        constructor(title, options) {
          shown.push({ title, body: options.body });
        }
      },
    };
    doc.hidden = hidden;
    const page = { rt: env.client, inbox, notify: createNotify({ window: win, document: doc }) };
    inbox.start();
    const fullConfig = { mode, me: ANN, urls: { dm_base: '/chat/dm/', cursor_param: 'before', history: '/api/history/' }, ...config };
    const result = mount(root, fullConfig, env.client, page, {
      document: doc,
      location: { href: 'http://site.test/chat/' },
      setTimeout: env.clock.setTimeout,
      clearTimeout: env.clock.clearTimeout,
    });
    connectOpen(env, { user: ANN });
    return { root, env, inbox, page, shown, result };
  }

  const joinFrame = (env, topic) => env.ws.frames('join').find((f) => f.topic === topic);

  test('index: the sidebar follows the inbox, and the page is joined once the inbox answered', async () => {
    const { root, env } = mounted('index', {});
    assert.deepEqual(env.ws.frames('join').map((f) => f.topic), ['inbox']);
    env.ws.reply(joinFrame(env, 'inbox'), { unread: { dms: 2, channels: { 10: 1 }, dms_by_user: { 2: 2 } }, friends_online: [2], missed: [], reset: false });
    await flush();
    assert.equal(root.dataset.joined, 'true');
    assert.equal(root.dataset.inbox, 'joined');
    assert.equal(root.querySelector('#friend-list [data-user-id="2"] .badge').textContent, '2');
    assert.equal(root.querySelector('#friend-list [data-user-id="2"]').dataset.online, 'true');
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'presence', payload: { user: BEN, online: false } });
    assert.equal(root.querySelector('#friend-list [data-user-id="2"]').dataset.online, 'false');
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'unread', payload: { dms: 0, channels: {}, dms_by_user: {} } });
    assert.equal(root.querySelector('#dm-unread-total').hidden, true);
  });

  test('index in a hidden tab: a DM from someone else notifies, my own from another device does not', async () => {
    const { env, shown } = mounted('index', {}, { hidden: true });
    env.ws.reply(joinFrame(env, 'inbox'), { unread: { dms: 0 }, missed: [], reset: false, seq: 0 });
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.created', seq: 1, payload: { message: dm(5, BEN, ANN, 'Are you there?') } });
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.created', seq: 2, payload: { message: dm(6, ANN, BEN, 'from my phone') } });
    env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.updated', seq: 3, payload: { message: dm(5, BEN, ANN, 'edited') } });
    assert.deepEqual(shown, [{ title: 'Message from Ben', body: 'Are you there?' }]);
  });

  test('channel: joins the channel after the inbox, renders history and presence, sends with marks, reads', async () => {
    const { root, env } = mounted('channel', { channel: { id: 10, name: 'general', is_archived: false } });
    assert.deepEqual(env.ws.frames('join').map((f) => f.topic), ['inbox', 'chat:10']);
    env.ws.reply(joinFrame(env, 'chat:10'), {
      channel: { id: 10, name: 'lobby', is_archived: false },
      messages: [channelMessage(1, BEN, 'hi Ann')],
      presence: [BEN, ANN],
      presence_count: 2,
      last_read_seq: 0,
      missed: [],
      reset: false,
      seq: 1,
    });
    await flush();
    assert.equal(root.dataset.joined, 'true');
    assert.deepEqual(bodies(root), ['hi Ann']);
    assert.equal(root.querySelector('.chat-title h1').textContent, '#lobby');
    assert.equal(root.querySelector('#channel-list [data-channel-id="10"] a').textContent, '#lobby');
    assert.deepEqual(root.querySelectorAll('#online-list li').map((li) => li.textContent), ['Ann', 'Ben']);
    assert.equal(root.querySelector('#online-count').textContent, '2');
    const read = env.ws.frames('send').find((f) => f.event === 'read');
    assert.equal(read.payload.seq, 1, 'the newest message in view is read');

    // Typing and a message from Ben.
    env.ws.receive({ op: 'event', topic: 'chat:10', event: 'typing', payload: { user: BEN, typing: true } });
    assert.equal(root.querySelector('#typing').textContent, 'Ben is typing…');
    env.ws.receive({ op: 'event', topic: 'chat:10', event: 'message.created', seq: 2, payload: { message: channelMessage(2, BEN, 'still there?') } });
    assert.equal(root.querySelector('#typing').textContent, '');
    assert.deepEqual(bodies(root), ['hi Ann', 'still there?']);

    // Ann sends: pending, then sent once, whatever arrives first.
    const input = root.querySelector('#message-input');
    input.value = 'yes';
    assert.equal(input.key('Enter'), false, 'Enter submits');
    const send = env.ws.frames('send').find((f) => f.event === 'message.create');
    assert.equal(send.payload.body, 'yes');
    assert.equal(input.value, '');
    assert.equal(message(root, 'yes').dataset.status, 'sending');
    const created = channelMessage(3, ANN, 'yes', { client_id: send.payload.client_id });
    env.ws.receive({ op: 'event', topic: 'chat:10', event: 'message.created', seq: 3, payload: { message: created } });
    env.ws.reply(send, { message: created });
    await flush();
    assert.deepEqual(bodies(root), ['hi Ann', 'still there?', 'yes']);
    assert.equal(message(root, 'yes').dataset.status, 'sent');

    // Presence diffs are set operations; I never leave my own list.
    env.ws.receive({ op: 'event', topic: 'chat:10', event: 'presence.diff', payload: { joins: [CY], leaves: [BEN, ANN], count: 2 } });
    assert.deepEqual(root.querySelectorAll('#online-list li').map((li) => li.textContent), ['Ann', 'cy']);

    // Archived live: read-only.
    env.ws.receive({ op: 'event', topic: 'chat:10', event: 'channel.updated', seq: 4, payload: { channel: { id: 10, name: 'lobby', is_archived: true } } });
    assert.equal(input.disabled, true);
  });

  test('channel: a refused join shows the error and disables sending', async () => {
    const { root, env } = mounted('channel', { channel: { id: 10, name: 'general', is_archived: false } });
    env.ws.replyError(joinFrame(env, 'chat:10'), 'forbidden');
    await flush();
    assert.equal(root.querySelector('#chat-error').hidden, false);
    assert.equal(root.querySelector('#chat-error').textContent, 'forbidden');
    assert.equal(root.querySelector('#send-form button').disabled, true);
  });

  test('channel: a 4403 close says so', async () => {
    const { root, env } = mounted('channel', { channel: { id: 10, name: 'general', is_archived: false } });
    env.ws.serverClose(4403);
    assert.equal(root.querySelector('#chat-error').textContent, 'You were removed from this conversation.');
  });

  describe('dm', () => {
    let originalFetch;
    let fetched;
    beforeEach(() => {
      originalFetch = globalThis.fetch;
      fetched = [];
      globalThis.fetch = async (url) => {
        fetched.push(url);
        return { ok: true, status: 200, json: async () => ({ results: [dm(5, BEN, ANN, 'Are you there?'), dm(6, ANN, BEN, 'yes')], previous: null }) };
      };
    });
    afterEach(() => {
      globalThis.fetch = originalFetch;
    });

    test('loads the conversation on the inbox join, shows only its DMs, typing and read marks both ways', async () => {
      const { root, env } = mounted('dm', { peer: BEN }, { shell: { peer: BEN, friends: [BEN, CY] } });
      env.ws.reply(joinFrame(env, 'inbox'), { unread: { dms: 1, dms_by_user: { 2: 1 } }, friends_online: [2], missed: [], reset: false, seq: 0 });
      await flush();
      await flush();
      assert.deepEqual(fetched, ['http://site.test/api/history/?limit=50']);
      assert.equal(root.dataset.joined, 'true');
      assert.deepEqual(bodies(root), ['Are you there?', 'yes']);
      assert.equal(root.querySelector('#peer-status').textContent, 'online');
      const read = env.ws.frames('send').find((f) => f.event === 'dm.read');
      assert.deepEqual({ with: read.payload.with, up_to: read.payload.up_to }, { with: 2, up_to: 5 });

      // Someone else's conversation stays out of this page.
      env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.created', seq: 1, payload: { message: dm(7, CY, ANN, 'psst') } });
      env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.typing', payload: { from: CY, typing: true } });
      assert.deepEqual(bodies(root), ['Are you there?', 'yes']);
      assert.equal(root.querySelector('#typing').textContent, '');

      env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.typing', payload: { from: BEN, typing: true } });
      assert.equal(root.querySelector('#typing').textContent, 'Ben is typing…');
      env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.created', seq: 2, payload: { message: dm(8, BEN, ANN, 'hello?') } });
      assert.deepEqual(bodies(root), ['Are you there?', 'yes', 'hello?']);
      assert.equal(root.querySelector('#typing').textContent, '');

      // Ben read mine up to 6: my message turns "read".
      env.ws.receive({ op: 'event', topic: 'inbox', event: 'dm.read', seq: 3, payload: { with: BEN, up_to: 6, reader: BEN } });
      assert.equal(message(root, 'yes').dataset.read, 'true');
      assert.equal(message(root, 'yes').querySelector('.msg-status').textContent, 'read');

      // Sending goes to the inbox with the peer as recipient.
      const input = root.querySelector('#message-input');
      input.value = 'on my way';
      root.querySelector('#send-form').requestSubmit();
      const send = env.ws.frames('send').find((f) => f.event === 'dm.send');
      assert.equal(send.topic, 'inbox');
      assert.deepEqual({ to: send.payload.to, body: send.payload.body }, { to: 2, body: 'on my way' });
    });

    test('a reconnect with reset reloads the conversation; a plain rejoin does not', async () => {
      const { env } = mounted('dm', { peer: BEN }, { shell: { peer: BEN } });
      env.ws.reply(joinFrame(env, 'inbox'), { missed: [], reset: false, seq: 0 });
      await flush();
      assert.equal(fetched.length, 1);
      for (const reset of [false, true]) {
        env.ws.serverClose(1006);
        env.clock.tick(env.closes[env.closes.length - 1].delay);
        env.ws.serverOpen({ user: ANN });
        env.ws.reply(joinFrame(env, 'inbox'), { missed: [], reset });
        await flush();
      }
      assert.equal(fetched.length, 2);
    });
  });
});
