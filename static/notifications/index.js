/**
 * The notifications module: the bell in the site header (templates/base.html,
 * `data-role="bell"`) and the live list of /notifications/ (`data-role="page"`).
 * Both follow the page's inbox (`page.inbox`): the `unread` counter, and
 * `notification.created` / `.updated` / `.deleted` and `notifications.read`;
 * marking read is the inbox's `notifications.read` send. A new notification
 * shows a desktop notification while the tab is hidden (`page.notify`).
 * User data only reaches the DOM through textContent.
 *
 * @module notifications/index
 */
import { INBOX } from '../realtime/protocol.js';
import { BELL_SIZE, NotificationList, ageText, badgeText } from './state.js';

function el(doc, tag, attrs = {}, text = null) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'className') node.className = value;
    else node.setAttribute(name, value);
  }
  if (text !== null) node.textContent = text;
  return node;
}

/** One notification as a list item, with a "Mark read" button while unread. */
export function itemElement(doc, notification, { now = Date.now() } = {}) {
  const item = el(doc, 'li', { className: 'notification', 'data-id': String(notification.id) });
  item.dataset.read = notification.read ? 'true' : 'false';
  item.dataset.kind = notification.kind;
  item.append(el(doc, 'span', { className: 'notification-title' }, notification.title));
  if (notification.body) item.append(el(doc, 'span', { className: 'notification-body' }, notification.body));
  item.append(el(doc, 'time', { className: 'muted', datetime: notification.updated_at }, ageText(notification.updated_at, now)));
  if (!notification.read) {
    const button = el(doc, 'button', { type: 'button', className: 'mark-read', 'data-id': String(notification.id) }, 'Mark read');
    item.append(button);
  }
  return item;
}

/** Follow the inbox into `list`, calling `render()` after each change; returns unsubscribe. */
export function followInbox(inbox, list, render, { onCreated = () => {} } = {}) {
  const stops = [
    inbox.onJoin((reply) => {
      list.setUnread(reply?.unread?.notifications);
      render({ joined: true });
    }),
    inbox.on(INBOX.UNREAD, (payload) => {
      list.setUnread(payload?.notifications);
      render({});
    }),
    inbox.on(INBOX.NOTIFICATION_CREATED, (payload) => {
      list.upsert(payload?.notification);
      render({});
      onCreated(payload?.notification);
    }),
    inbox.on(INBOX.NOTIFICATION_UPDATED, (payload) => {
      list.upsert(payload?.notification);
      render({});
    }),
    inbox.on(INBOX.NOTIFICATION_DELETED, (payload) => {
      list.remove(payload?.id);
      render({});
    }),
    inbox.on(INBOX.NOTIFICATIONS_READ, (payload) => {
      list.markRead(payload?.ids);
      render({});
    }),
  ];
  return () => stops.forEach((stop) => stop());
}

async function fetchLatest(url, fetchFn) {
  const response = await fetchFn(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()).results;
}

function mountBell(root, rt, page, { document: doc, fetch: fetchFn }) {
  const button = root.querySelector('#bell-button');
  const badge = root.querySelector('#bell-count');
  const menu = root.querySelector('#bell-menu');
  const listNode = root.querySelector('#bell-list');
  const readAll = root.querySelector('#bell-read-all');
  const list = new NotificationList({ limit: BELL_SIZE });
  const listUrl = `${root.dataset.listUrl}?page_size=${BELL_SIZE}`;
  const pageUrl = root.dataset.pageUrl;

  const render = ({ joined }) => {
    const text = badgeText(list.unread);
    badge.textContent = text;
    badge.dataset.count = String(list.unread);
    badge.hidden = !text;
    button.setAttribute('aria-label', list.unread ? `Notifications, ${list.unread} unread` : 'Notifications');
    listNode.replaceChildren(...list.items.map((n) => itemElement(doc, n)));
    if (!list.items.length) listNode.append(el(doc, 'li', { className: 'muted' }, 'No notifications yet.'));
    readAll.disabled = list.unread === 0;
    if (joined) {
      // Every (re)join: the latest list from REST (events missed while away came in `missed`).
      fetchLatest(listUrl, fetchFn).then(
        (items) => {
          list.load(items);
          render({});
          root.dataset.loaded = 'true';
        },
        (error) => console.warn('[notifications] list failed:', error),
      );
    }
  };

  followInbox(page.inbox, list, render, {
    onCreated: (notification) => {
      if (notification) page.notify(notification.title, { body: notification.body, url: pageUrl, tag: `notification-${notification.id}` });
    },
  });
  button.addEventListener('click', () => {
    menu.hidden = !menu.hidden;
    button.setAttribute('aria-expanded', String(!menu.hidden));
  });
  listNode.addEventListener('click', (event) => {
    const id = Number(event.target?.dataset?.id);
    if (event.target?.classList?.contains('mark-read') && id) page.inbox.send(INBOX.NOTIFICATIONS_READ, { ids: [id] });
  });
  readAll.addEventListener('click', () => page.inbox.send(INBOX.NOTIFICATIONS_READ, { all: true }));
  render({});
  return page.inbox.ready.then(() => {
    root.dataset.inbox = 'joined';
  });
}

function mountPage(root, rt, page, { document: doc }) {
  const listNode = root.querySelector('#notification-list');
  const list = new NotificationList();
  list.load(JSON.parse(doc.getElementById('notifications-initial')?.textContent ?? '[]'));
  const kind = root.dataset.kind || '';
  const render = () => {
    const shown = kind ? list.items.filter((n) => n.kind === kind) : list.items;
    listNode.replaceChildren(...shown.map((n) => itemElement(doc, n)));
    if (!shown.length) listNode.append(el(doc, 'li', { className: 'muted' }, 'No notifications.'));
  };
  followInbox(page.inbox, list, render);
  listNode.addEventListener('click', (event) => {
    const id = Number(event.target?.dataset?.id);
    if (event.target?.classList?.contains('mark-read') && id) page.inbox.send(INBOX.NOTIFICATIONS_READ, { ids: [id] });
  });
  root.querySelector('#page-read-all')?.addEventListener('click', () => page.inbox.send(INBOX.NOTIFICATIONS_READ, { all: true }));
  render();
  return page.inbox.ready.then(() => {
    root.dataset.inbox = 'joined';
  });
}

/**
 * @param {HTMLElement} root `[data-role="bell"]` or `[data-role="page"]`
 * @param {object} config unused (the bell's URLs are data attributes of base.html)
 * @param {any} rt the page's RealtimeClient
 * @param {{inbox: any, notify: Function}} page the page bootstrap's helpers
 * @param {{document?: Document, fetch?: typeof fetch}} [env] globals (tests)
 */
export function mount(root, config, rt, page, env = {}) {
  const options = { document: env.document ?? globalThis.document, fetch: env.fetch ?? ((...args) => globalThis.fetch(...args)) };
  if (root.dataset.role === 'page') return mountPage(root, rt, page, options);
  return mountBell(root, rt, page, options);
}
