// The notifications page module (static/notifications/): the list state and the bell,
// driven by a fake inbox on the minimal fake DOM.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { FakeDocument, FakeEvent, builder } from './fake-dom.mjs';
import { flush } from './fakes.mjs';
import { mount } from '../../static/notifications/index.js';
import { NotificationList, ageText, badgeText } from '../../static/notifications/state.js';

const n = (id, extra = {}) => ({
  id,
  kind: 'follow',
  title: `N${id}`,
  body: '',
  data: {},
  actors: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  read: false,
  ...extra,
});

function fakeInbox() {
  const handlers = new Map();
  const joins = [];
  return {
    sent: [],
    ready: Promise.resolve({}),
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, []);
      handlers.get(event).push(fn);
      return () => {};
    },
    onJoin(fn) {
      joins.push(fn);
      return () => {};
    },
    send(event, payload) {
      this.sent.push([event, payload]);
      return Promise.resolve({});
    },
    emit(event, payload) {
      for (const fn of handlers.get(event) ?? []) fn(payload, {});
    },
    join(reply) {
      for (const fn of joins) fn(reply, { rejoin: false, reset: false });
    },
  };
}

function bellShell(doc) {
  const h = builder(doc);
  return h(
    'div',
    { id: 'bell', 'data-role': 'bell', 'data-list-url': '/api/notifications/', 'data-page-url': '/notifications/' },
    h('button', { id: 'bell-button' }, h('span', { id: 'bell-count', hidden: true })),
    h('div', { id: 'bell-menu', hidden: true }, h('button', { id: 'bell-read-all' }), h('ol', { id: 'bell-list' })),
  );
}

describe('NotificationList', () => {
  test('upsert puts the newest on top once, remove and markRead change only their ids', () => {
    const list = new NotificationList({ limit: 3 });
    list.load([n(3), n(2), n(1)]);
    list.upsert(n(4));
    assert.deepEqual(list.items.map((x) => x.id), [4, 3, 2]);
    list.upsert(n(2, { title: 'Ann and Ben followed you' }));
    assert.deepEqual(list.items.map((x) => x.id), [2, 4, 3]);
    assert.equal(list.items[0].title, 'Ann and Ben followed you');
    list.markRead([4, 99]);
    assert.deepEqual(list.items.map((x) => x.read), [false, true, false]);
    list.remove(4);
    assert.deepEqual(list.items.map((x) => x.id), [2, 3]);
    list.upsert(null); // ignored
    list.setUnread(-1);
    assert.equal(list.unread, 0);
  });

  test('badge and age texts', () => {
    assert.equal(badgeText(0), '');
    assert.equal(badgeText(7), '7');
    assert.equal(badgeText(100), '99+');
    const now = Date.parse('2026-01-01T03:00:00Z');
    assert.equal(ageText('2026-01-01T02:59:30Z', now), 'just now');
    assert.equal(ageText('2026-01-01T02:55:00Z', now), '5 min');
    assert.equal(ageText('2026-01-01T00:00:00Z', now), '3 h');
    assert.equal(ageText('nonsense', now), '');
  });
});

describe('the bell', () => {
  test('the badge follows the join reply and unread; a new one is listed and shown while hidden', async () => {
    const doc = new FakeDocument();
    const root = bellShell(doc);
    const inbox = fakeInbox();
    const shown = [];
    const fetched = [];
    const fetch = async (url) => {
      fetched.push(url);
      return { ok: true, json: async () => ({ results: [n(1, { read: true })] }) };
    };
    await mount(root, {}, {}, { inbox, notify: (title, options) => shown.push([title, options.url]) }, { document: doc, fetch });
    assert.equal(root.dataset.inbox, 'joined');
    const badge = root.querySelector('#bell-count');
    assert.equal(badge.hidden, true);

    inbox.join({ unread: { notifications: 2, dms: 5, channels: {} } });
    assert.equal(badge.textContent, '2');
    assert.equal(badge.hidden, false);
    await flush();
    assert.deepEqual(fetched, ['/api/notifications/?page_size=10']);
    assert.equal(root.querySelectorAll('#bell-list .notification').length, 1);

    inbox.emit('notification.created', { notification: n(2, { title: '<b>Ann</b> followed you' }) });
    const first = root.querySelector('#bell-list .notification');
    assert.equal(first.dataset.id, '2');
    assert.equal(first.querySelector('.notification-title').textContent, '<b>Ann</b> followed you');
    assert.deepEqual(shown, [['<b>Ann</b> followed you', '/notifications/']]);
    inbox.emit('unread', { notifications: 3, dms: 0, channels: {} });
    assert.equal(badge.textContent, '3');

    inbox.emit('notifications.read', { ids: [2] });
    assert.equal(root.querySelector('#bell-list .notification').dataset.read, 'true');
    inbox.emit('notification.deleted', { id: 2 });
    assert.equal(root.querySelector('#bell-list .notification').dataset.id, '1');
    inbox.emit('unread', { notifications: 0 });
    assert.equal(badge.hidden, true);
  });

  test('the button opens the menu; mark one and mark all send notifications.read', async () => {
    const doc = new FakeDocument();
    const root = bellShell(doc);
    const inbox = fakeInbox();
    const fetch = async () => ({ ok: true, json: async () => ({ results: [] }) });
    await mount(root, {}, {}, { inbox, notify: () => null }, { document: doc, fetch });
    root.querySelector('#bell-button').click();
    assert.equal(root.querySelector('#bell-menu').hidden, false);
    assert.equal(root.querySelector('#bell-button').getAttribute('aria-expanded'), 'true');

    inbox.emit('notification.created', { notification: n(7) });
    const markOne = root.querySelector('#bell-list .mark-read');
    root.querySelector('#bell-list').dispatchEvent(new FakeEvent('click', { target: markOne }));
    root.querySelector('#bell-read-all').disabled = false;
    root.querySelector('#bell-read-all').click();
    assert.deepEqual(inbox.sent, [
      ['notifications.read', { ids: [7] }],
      ['notifications.read', { all: true }],
    ]);
  });
});
