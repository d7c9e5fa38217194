/**
 * The chat pages (/chat/, /chat/<id>/, /chat/dm/<username>/): channel and
 * direct-message views over the realtime protocol (docs/protocol.md 4.1, 4.2)
 * through the bundled RealtimeClient, and REST for older history.
 *
 * The page renders a shell and a JSON config (`#chat-config`); everything
 * live comes from one WebSocket authenticated by the session cookie. User
 * data only ever reaches the DOM through textContent.
 *
 * @module chat/chat
 */
import { RealtimeClient } from '/static/realtime/client.js';
import { connectionLabel, displayName, dmReadMeaning, errorText, normalizeMessage, shortTime, typingText } from './format.js';

const TYPING_CLEAR_MS = 3000; // a typing line outlives the last typing event by this much
const TYPING_RESEND_MS = 1500; // while typing goes on; the server forwards at most 1/s
const PAGE_SIZE = 50;
const AT_BOTTOM_PX = 48;

const config = JSON.parse(document.getElementById('chat-config').textContent);
const me = config.me;
const root = document.querySelector('.chat');

// --- small DOM helpers -------------------------------------------------------

/** An element with attributes and text or child nodes; never parses HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * GET JSON over REST with the session cookie; throws an Error with `.code`.
 * (Every write goes over the WebSocket, so no CSRF token is needed here.)
 */
async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const err = new Error((data && (data.detail || data.message)) || `HTTP ${response.status}`);
    err.code = data?.code || `http_${response.status}`;
    err.fields = {};
    throw err;
  }
  return data;
}

// --- visible error line ------------------------------------------------------

const errorLine = document.getElementById('chat-error');
let errorTimer = null;

function showError(text) {
  if (!errorLine) return;
  errorLine.textContent = text;
  errorLine.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    errorLine.hidden = true;
  }, 15000);
}

function clearError() {
  if (!errorLine) return;
  errorLine.hidden = true;
  errorLine.textContent = '';
}

// --- the realtime client and the connection indicator ------------------------

// A chat page wants to be back soon after a restart; full jitter still
// spreads the clients over the window.
const rt = new RealtimeClient({ backoff: { base: 500, cap: 8000 } });
const indicator = document.getElementById('connection-state');

function showConnection(state) {
  const label = connectionLabel(state);
  if (indicator) {
    indicator.dataset.state = label;
    indicator.textContent = label;
  }
  root.dataset.connection = label;
}
showConnection('connecting');
rt.on('state', showConnection);
rt.on('close', ({ code }) => {
  if (code === 4403) showError('You were removed from this conversation.');
});

// --- message list --------------------------------------------------------------

/**
 * The rendered messages of one conversation, each exactly once: keyed by id,
 * and before the server answered by the client_id of our own send, so the
 * send reply and the live event of the same message meet in one entry.
 */
class MessageList {
  constructor(container, { topic, updateEvent, deleteEvent, resend }) {
    this.container = container;
    this.topic = topic;
    this.updateEvent = updateEvent;
    this.deleteEvent = deleteEvent;
    this.resend = resend;
    this.byId = new Map();
    this.byClientId = new Map();
  }

  /** The oldest confirmed entry's ordering key (the `before` cursor). */
  oldestKey() {
    for (const node of this.container.children) {
      const entry = node._entry;
      if (entry && entry.msg.id != null) return entry.msg.key;
    }
    return null;
  }

  /** The newest confirmed message matching `predicate`, or null. */
  newest(predicate = () => true) {
    const nodes = this.container.children;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const entry = nodes[i]._entry;
      if (entry && entry.msg.id != null && predicate(entry.msg)) return entry.msg;
    }
    return null;
  }

  isMine(msg) {
    return msg.author?.id === me.id;
  }

  /**
   * Apply a message from the server. `current`: the payload is the message's
   * current state (reply, REST, update/delete event). A `*.created` event is
   * not: replayed after a re-join it may be older than what is shown, so it
   * only adds what is missing.
   */
  upsert(raw, { current = true } = {}) {
    const msg = normalizeMessage(raw);
    let entry = this.byId.get(msg.id);
    if (!entry && msg.clientId && this.isMine(msg)) {
      entry = this.byClientId.get(msg.clientId);
    }
    if (!entry) {
      entry = this._create(msg, 'sent');
      this._place(entry);
      this._render(entry);
      return entry;
    }
    const wasPending = entry.msg.id == null;
    // Read marks only ever move forward: a payload older than a dm.read does not undo it.
    if (current || wasPending) entry.msg = { ...msg, author: msg.author ?? entry.msg.author, read: msg.read || entry.msg.read };
    this.byId.set(msg.id, entry);
    entry.status = 'sent';
    entry.error = null;
    if (wasPending) this._place(entry);
    this._render(entry);
    return entry;
  }

  /** A message of ours not yet confirmed, shown at the end as "sending". */
  addPending(clientId, body) {
    const msg = { id: null, key: Infinity, author: me, body, clientId, createdAt: null, editedAt: null, deleted: false, read: false };
    const entry = this._create(msg, 'sending');
    this.container.append(entry.node);
    this._render(entry);
    return entry;
  }

  setStatus(entry, status, detail) {
    if (entry.msg.id != null && status !== 'sent') return; // confirmed by a live event first
    entry.status = entry.msg.id != null ? 'sent' : status;
    entry.error = status === 'failed' ? errorText(detail) : null;
    this._render(entry);
  }

  /** Our own confirmed messages up to id `upTo` were read by their recipient (a DM's `dm.read`). */
  markMineRead(upTo) {
    for (const entry of this.byId.values()) {
      if (!this.isMine(entry.msg) || entry.msg.read || entry.msg.id > upTo) continue;
      entry.msg = { ...entry.msg, read: true };
      this._render(entry);
    }
  }

  /** Forget confirmed messages (after a stream reset); unsent ones stay. */
  clearConfirmed() {
    for (const entry of this.byId.values()) {
      entry.node.remove();
      if (entry.msg.clientId) this.byClientId.delete(entry.msg.clientId);
    }
    this.byId.clear();
  }

  _create(msg, status) {
    const node = el('li', { className: 'msg' });
    const entry = { msg, status, error: null, node, editing: false, confirmingDelete: false };
    node._entry = entry;
    if (msg.id != null) this.byId.set(msg.id, entry);
    if (msg.clientId && this.isMine(msg)) this.byClientId.set(msg.clientId, entry);

    entry.author = el('span', { className: 'msg-author' });
    entry.time = el('time', { className: 'msg-time' });
    entry.edited = el('span', { className: 'msg-edited', text: '(edited)' });
    entry.statusNode = el('span', { className: 'msg-status' });
    entry.body = el('div', { className: 'msg-body' });
    entry.errorNode = el('div', { className: 'msg-error', role: 'alert' });
    entry.actions = el('div', { className: 'msg-actions' });
    node.append(
      el('div', { className: 'msg-head' }, entry.author, entry.time, entry.edited, entry.statusNode),
      entry.body,
      entry.errorNode,
      entry.actions,
    );
    return entry;
  }

  /** Keep confirmed messages ordered by key; unconfirmed ones stay at the end. */
  _place(entry) {
    const key = entry.msg.key;
    const nodes = this.container.children;
    let before = null;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const other = nodes[i]._entry;
      if (!other || other === entry) continue;
      if (other.msg.id == null || other.msg.key > key) before = nodes[i];
      else break;
    }
    if (before) this.container.insertBefore(entry.node, before);
    else this.container.append(entry.node);
  }

  _render(entry) {
    const { msg, node } = entry;
    const mine = this.isMine(msg);
    node.dataset.id = msg.id ?? '';
    node.dataset.clientId = msg.clientId ?? '';
    node.dataset.status = entry.status;
    node.dataset.read = mine && msg.read ? 'true' : 'false';
    node.classList.toggle('mine', mine);
    node.classList.toggle('deleted', msg.deleted);
    entry.author.textContent = displayName(msg.author);
    entry.time.textContent = shortTime(msg.createdAt);
    if (msg.createdAt) entry.time.dateTime = msg.createdAt;
    entry.edited.hidden = !msg.editedAt || msg.deleted;
    entry.body.textContent = msg.deleted ? 'message deleted' : msg.body;
    entry.body.hidden = entry.editing;
    const status = entry.status === 'sent' && msg.read ? 'read' : entry.status;
    entry.statusNode.textContent = mine ? { sending: 'sending…', sent: 'sent', read: 'read', failed: 'failed' }[status] : '';
    entry.errorNode.textContent = entry.error ?? '';
    entry.errorNode.hidden = !entry.error;
    if (msg.deleted && entry.editing) this._closeEditor(entry);
    this._renderActions(entry, mine);
  }

  _renderActions(entry, mine) {
    const { msg } = entry;
    entry.actions.replaceChildren();
    if (!mine) return;
    if (entry.status === 'failed' && msg.id == null) {
      entry.actions.append(this._button('Retry', 'msg-retry', () => this.resend(entry)));
      return;
    }
    if (msg.id == null || msg.deleted || entry.editing) return;
    entry.actions.append(this._button('Edit', 'msg-edit', () => this._openEditor(entry)));
    const label = entry.confirmingDelete ? 'Confirm delete' : 'Delete';
    entry.actions.append(this._button(label, 'msg-delete', () => this._delete(entry)));
  }

  _button(text, className, onClick) {
    const button = el('button', { type: 'button', className: `link ${className}`, text });
    button.addEventListener('click', onClick);
    return button;
  }

  _openEditor(entry) {
    entry.editing = true;
    const input = el('textarea', { className: 'msg-edit-input', rows: 2, maxlength: 4000, 'aria-label': 'Edit message' });
    input.value = entry.msg.body;
    const save = el('button', { type: 'submit', className: 'msg-save', text: 'Save' });
    const cancel = el('button', { type: 'button', className: 'link msg-cancel', text: 'Cancel' });
    const form = el('form', { className: 'msg-edit-form' }, input, el('div', { className: 'row' }, save, cancel));
    cancel.addEventListener('click', () => this._closeEditor(entry));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this._closeEditor(entry);
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (body === entry.msg.body) {
        this._closeEditor(entry);
        return;
      }
      save.disabled = true;
      rt.send(this.topic, this.updateEvent, { id: entry.msg.id, body }).then(
        (reply) => {
          this._closeEditor(entry);
          if (reply?.message) this.upsert(reply.message);
        },
        (error) => {
          save.disabled = false;
          showError(errorText(error));
        },
      );
    });
    entry.editor = form;
    entry.body.after(form);
    this._render(entry);
    input.focus();
  }

  _closeEditor(entry) {
    if (!entry.editing) return;
    entry.editing = false;
    entry.editor?.remove();
    entry.editor = null;
    this._render(entry);
  }

  _delete(entry) {
    if (!entry.confirmingDelete) {
      entry.confirmingDelete = true;
      this._render(entry);
      setTimeout(() => {
        entry.confirmingDelete = false;
        this._render(entry);
      }, 4000);
      return;
    }
    entry.confirmingDelete = false;
    rt.send(this.topic, this.deleteEvent, { id: entry.msg.id }).then(
      (reply) => {
        if (reply?.message) this.upsert(reply.message);
      },
      (error) => showError(errorText(error)),
    );
  }
}

// --- the typing line -----------------------------------------------------------

class TypingLine {
  constructor(node) {
    this.node = node;
    this.typers = new Map(); // user id -> {name, timer}, in the order they started
  }

  set(user, typing) {
    if (!user || user.id === me.id || !this.node) return;
    const current = this.typers.get(user.id);
    if (current) clearTimeout(current.timer);
    if (typing) {
      const timer = setTimeout(() => this.set(user, false), TYPING_CLEAR_MS);
      this.typers.set(user.id, { name: displayName(user), timer });
    } else {
      this.typers.delete(user.id);
    }
    this.node.textContent = typingText([...this.typers.values()].map((typer) => typer.name));
  }
}

/** Sends typing while the user types: at once, then every TYPING_RESEND_MS. */
function typingSender(input, send) {
  let lastSent = 0;
  input.addEventListener('input', () => {
    if (!input.value.trim()) {
      if (lastSent) send(false);
      lastSent = 0;
      return;
    }
    const now = Date.now();
    if (now - lastSent >= TYPING_RESEND_MS) {
      lastSent = now;
      send(true);
    }
  });
  return () => {
    if (lastSent) send(false);
    lastSent = 0;
  };
}

// --- sidebar: channel and friend lists, unread badges, friends online ------------

function setBadge(badge, count) {
  if (!badge) return;
  const n = Number(count) || 0;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.dataset.count = String(n);
  badge.hidden = n === 0;
}

function applyChannelUnread(channels = {}) {
  for (const item of document.querySelectorAll('[data-channel-id]')) {
    setBadge(item.querySelector('.badge'), channels[item.dataset.channelId] ?? 0);
  }
}

function friendItem(userId) {
  return document.querySelector(`#friend-list [data-user-id="${Number(userId)}"]`);
}

function setFriendUnread(userId, count) {
  const item = friendItem(userId);
  if (item) setBadge(item.querySelector('.badge'), count);
}

function friendIds() {
  return [...document.querySelectorAll('#friend-list [data-user-id]')].map((item) => Number(item.dataset.userId));
}

function setFriendOnline(userId, online) {
  const item = friendItem(userId);
  if (item) {
    item.dataset.online = online ? 'true' : 'false';
    const dot = item.querySelector('.dot');
    if (dot) dot.title = online ? 'online' : 'offline';
  }
  if (config.peer && config.peer.id === Number(userId)) {
    const status = document.getElementById('peer-status');
    if (status) {
      status.dataset.online = online ? 'true' : 'false';
      status.textContent = online ? 'online' : 'offline';
    }
  }
}

/** The inbox counters: channel badges, the DM total and each friend's badge (`dms_by_user` lists only friends with unread messages). */
function applyUnread(unread) {
  if (!unread) return;
  if (unread.channels) applyChannelUnread(unread.channels);
  setBadge(document.getElementById('dm-unread-total'), unread.dms ?? 0);
  if (unread.dms_by_user) {
    for (const id of friendIds()) setFriendUnread(id, unread.dms_by_user[String(id)] ?? 0);
  }
}

/** The inbox join reply's `friends_online`: every friend's dot (and the DM peer's status) from the snapshot. */
function applyFriendsOnline(ids) {
  if (!Array.isArray(ids)) return;
  const online = new Set(ids.map(Number));
  for (const id of friendIds()) setFriendOnline(id, online.has(id));
}

// --- desktop notifications ----------------------------------------------------

const notifyButton = document.getElementById('notify-permission');
const notifyState = document.getElementById('notify-state');

function renderNotifyPermission() {
  if (!notifyButton) return;
  if (!('Notification' in window)) {
    notifyButton.hidden = true;
    if (notifyState) notifyState.textContent = 'Desktop notifications are not available in this browser.';
    return;
  }
  const permission = Notification.permission;
  notifyButton.hidden = permission !== 'default';
  if (notifyState) {
    notifyState.textContent =
      permission === 'granted' ? 'Desktop notifications are on.' : permission === 'denied' ? 'Desktop notifications are blocked.' : '';
  }
}

notifyButton?.addEventListener('click', async () => {
  try {
    await Notification.requestPermission();
  } finally {
    renderNotifyPermission();
  }
});
renderNotifyPermission();

function notifyDirectMessage(message) {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const from = message.from;
  try {
    const notification = new Notification(`Message from ${displayName(from)}`, {
      body: message.deleted ? '' : message.body,
      tag: `dm-${from?.id}`,
    });
    notification.onclick = () => {
      window.focus();
      if (from?.username) location.assign(`${config.urls.dm_base}${encodeURIComponent(from.username)}/`);
    };
  } catch (error) {
    console.warn('[chat] notification failed:', error);
  }
}

// --- one conversation (a channel or a DM) ---------------------------------------

const messagesNode = document.getElementById('messages');
const logNode = document.getElementById('message-log');
const olderButton = document.getElementById('load-older');
const form = document.getElementById('send-form');
const input = document.getElementById('message-input');
const typingLine = new TypingLine(document.getElementById('typing'));

function atBottom() {
  if (!logNode) return true;
  return logNode.scrollHeight - logNode.scrollTop - logNode.clientHeight < AT_BOTTOM_PX;
}

function scrollToBottom() {
  if (logNode) logNode.scrollTop = logNode.scrollHeight;
}

/** Run `change`, keeping the view pinned to the bottom if it was there. */
function keepingBottom(change) {
  const pinned = atBottom();
  const result = change();
  if (pinned) scrollToBottom();
  return result;
}

function setOlderVisible(visible) {
  if (olderButton) olderButton.hidden = !visible;
}

/**
 * The wiring shared by channel and DM views. `conv` supplies the differences:
 * topic, event names, the payload of a create, the history URL and read marks.
 */
function openConversation(conv) {
  const list = new MessageList(messagesNode, {
    topic: conv.topic,
    updateEvent: conv.updateEvent,
    deleteEvent: conv.deleteEvent,
    resend: (entry) => send(entry),
  });

  function send(entry) {
    clearError();
    const payload = { ...conv.createPayload(entry.msg.body), client_id: entry.msg.clientId };
    rt.send(conv.topic, conv.createEvent, payload, {
      onStatus: (status, detail) => list.setStatus(entry, status, detail),
    }).then(
      (reply) => {
        if (reply?.message) keepingBottom(() => list.upsert(reply.message));
        markRead();
      },
      (error) => showError(errorText(error)),
    );
  }

  const stopTyping = typingSender(input, (typing) => {
    rt.send(conv.topic, conv.typingEvent, conv.typingPayload(typing), { queue: false }).catch(() => {});
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    stopTyping();
    const entry = list.addPending(newClientId(), body);
    scrollToBottom();
    send(entry);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  let lastRead = null;
  function markRead() {
    if (document.hidden || !atBottom()) return;
    const mark = conv.readMark(list, lastRead);
    if (mark === null) return;
    lastRead = mark.position;
    rt.send(conv.topic, mark.event, mark.payload, { queue: false }).catch(() => {
      lastRead = null; // try again on the next chance
    });
  }
  logNode?.addEventListener('scroll', () => {
    if (atBottom()) markRead();
  });
  document.addEventListener('visibilitychange', markRead);

  let loadingOlder = false;
  async function loadOlder() {
    if (loadingOlder) return;
    const before = list.oldestKey();
    loadingOlder = true;
    olderButton.disabled = true;
    try {
      const url = new URL(conv.historyUrl, location.href);
      if (before !== null) url.searchParams.set(conv.cursorParam, String(before));
      url.searchParams.set('limit', String(PAGE_SIZE));
      const page = await getJson(url.toString());
      const items = page.results ?? [];
      const height = logNode.scrollHeight;
      const top = logNode.scrollTop;
      for (const raw of items) list.upsert(raw);
      // Keep what the reader was looking at in place.
      logNode.scrollTop = top + (logNode.scrollHeight - height);
      setOlderVisible(!!page.previous);
    } catch (error) {
      showError(errorText(error));
    } finally {
      loadingOlder = false;
      olderButton.disabled = false;
    }
  }
  olderButton?.addEventListener('click', loadOlder);

  /** Messages of a history page or join reply, oldest first, as current state. */
  function applyHistory(items, { hasMore, replace = false }) {
    keepingBottom(() => {
      if (replace) list.clearConfirmed();
      for (const raw of items) list.upsert(raw);
    });
    if (hasMore !== undefined) setOlderVisible(hasMore);
  }

  function onMessageEvent(name, payload) {
    const message = payload?.message;
    if (!message) return false;
    if (name.endsWith('.created')) {
      keepingBottom(() => list.upsert(message, { current: false }));
      typingLine.set(message.author ?? message.from, false);
    } else if (name.endsWith('.updated') || name.endsWith('.deleted')) {
      list.upsert(message);
    } else {
      return false;
    }
    markRead();
    return true;
  }

  return { list, applyHistory, onMessageEvent, markRead, scrollToBottom };
}

// --- page modes -------------------------------------------------------------------

function channelPage() {
  const channel = config.channel;
  const topic = `chat:${channel.id}`;

  const presence = new Map(); // user id -> U
  const onlineList = document.getElementById('online-list');
  const onlineCount = document.getElementById('online-count');

  function showChannel(data) {
    // An archived channel is read-only.
    input.disabled = !!data.is_archived;
    form.querySelector('button').disabled = !!data.is_archived;
    const title = document.querySelector('.chat-title h1');
    if (title && data.name) title.textContent = `#${data.name}`;
    const link = document.querySelector(`#channel-list [data-channel-id="${Number(data.id)}"] a`);
    if (link && data.name) link.textContent = `#${data.name}`;
  }

  function renderPresence(count) {
    const users = [...presence.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)));
    onlineList.replaceChildren(
      ...users.map((user) =>
        el('li', { 'data-user-id': user.id, className: user.id === me.id ? 'me' : null }, el('span', { className: 'dot', 'aria-hidden': 'true' }), el('span', { text: displayName(user) })),
      ),
    );
    onlineCount.textContent = String(count ?? presence.size);
  }

  let lastReadSeq = 0; // the member's read mark on the server
  showChannel(channel);
  const conv = openConversation({
    topic,
    createEvent: 'message.create',
    updateEvent: 'message.update',
    deleteEvent: 'message.delete',
    typingEvent: 'typing',
    createPayload: (body) => ({ body }),
    typingPayload: (typing) => ({ typing }),
    historyUrl: config.urls.history,
    cursorParam: config.urls.cursor_param,
    readMark: (list, lastRead) => {
      const newest = list.newest();
      if (!newest || newest.key <= (lastRead ?? lastReadSeq)) return null;
      return { event: 'read', payload: { seq: newest.key }, position: newest.key };
    },
  });

  return rt
    .join(topic, {}, {
      onJoin: (reply, { rejoin, reset }) => {
        lastReadSeq = Number(reply.last_read_seq) || 0;
        if (reply.channel) showChannel(reply.channel);
        const messages = Array.isArray(reply.messages) ? reply.messages : [];
        conv.applyHistory(messages, { hasMore: rejoin && !reset ? undefined : messages.length >= PAGE_SIZE, replace: reset && rejoin });
        presence.clear();
        for (const user of reply.presence ?? []) presence.set(user.id, user);
        renderPresence(reply.presence_count);
        if (!rejoin) conv.scrollToBottom();
      },
      onEvent: (event, payload) => {
        if (conv.onMessageEvent(event, payload)) return;
        if (event === 'typing') typingLine.set(payload.user, !!payload.typing);
        else if (event === 'channel.updated' && payload.channel) showChannel(payload.channel);
        else if (event === 'presence.diff') {
          for (const user of payload.joins ?? []) presence.set(user.id, user);
          for (const user of payload.leaves ?? []) if (user.id !== me.id) presence.delete(user.id);
          renderPresence(payload.count);
        }
      },
      onError: (error) => showError(errorText(error)),
    })
    .then(() => {
      root.dataset.joined = 'true';
      conv.markRead();
    })
    .catch((error) => {
      showError(errorText(error));
      form.querySelector('button').disabled = true;
    });
}

function dmPage(inboxEvents) {
  const peer = config.peer;
  const conv = openConversation({
    topic: 'inbox',
    createEvent: 'dm.send',
    updateEvent: 'dm.update',
    deleteEvent: 'dm.delete',
    typingEvent: 'dm.typing',
    createPayload: (body) => ({ to: peer.id, body }),
    typingPayload: (typing) => ({ to: peer.id, typing }),
    historyUrl: config.urls.history,
    cursorParam: config.urls.cursor_param,
    readMark: (list, lastRead) => {
      const newest = list.newest((msg) => msg.author?.id === peer.id);
      if (!newest || newest.id <= (lastRead ?? 0)) return null;
      // Already read before this page opened: nothing to mark.
      if (lastRead === null && readAt.get(newest.id)) return null;
      return { event: 'dm.read', payload: { with: peer.id, up_to: newest.id }, position: newest.id };
    },
  });
  let readAt = new Map(); // id -> read_at of the peer's messages

  function remember(raw) {
    if (raw.from?.id === peer.id) readAt.set(raw.id, raw.read_at ?? null);
  }

  function inConversation(message) {
    const ids = [message.from?.id, message.to?.id];
    return ids.includes(peer.id) && ids.includes(me.id);
  }

  async function loadLatest({ replace }) {
    try {
      const url = new URL(config.urls.history, location.href);
      url.searchParams.set('limit', String(PAGE_SIZE));
      const page = await getJson(url.toString());
      const items = page.results ?? [];
      if (replace) readAt = new Map();
      items.forEach(remember);
      conv.applyHistory(items, { hasMore: !!page.previous, replace });
      conv.scrollToBottom();
      conv.markRead();
    } catch (error) {
      showError(errorText(error));
    } finally {
      root.dataset.joined = 'true';
    }
  }

  inboxEvents.onJoin = ({ rejoin, reset }) => {
    if (!rejoin) return loadLatest({ replace: false });
    if (reset) return loadLatest({ replace: true });
    return null;
  };
  inboxEvents.onEvent = (event, payload) => {
    const message = payload?.message;
    if (message && event.startsWith('dm.') && inConversation(message)) {
      remember(message);
      conv.onMessageEvent(event, payload);
      return true;
    }
    if (event === 'dm.typing' && payload.from?.id === peer.id) {
      typingLine.set(payload.from, !!payload.typing);
      return true;
    }
    if (event === 'dm.read') {
      const read = dmReadMeaning(payload, me.id);
      if (!read || read.friendId !== peer.id) return false;
      if (read.byMe) {
        // Read here or on another device of mine: nothing left to mark up to there.
        for (const id of readAt.keys()) if (id <= read.upTo && !readAt.get(id)) readAt.set(id, true);
      } else {
        conv.list.markMineRead(read.upTo); // the peer read what I sent
      }
      return true;
    }
    return false;
  };
}

// --- the inbox: unread counters, DMs, friends' presence ---------------------------

function joinInbox(inboxEvents) {
  return rt
    .join('inbox', {}, {
      onJoin: (reply, info) => {
        // Every (re)join: the counters and who is online now (presence events
        // missed while disconnected are not replayed).
        applyUnread(reply.unread);
        applyFriendsOnline(reply.friends_online);
        inboxEvents.onJoin?.(info);
      },
      onEvent: (event, payload) => {
        inboxEvents.onEvent?.(event, payload);
        if (event === 'unread') {
          applyUnread(payload);
        } else if (event === 'presence') {
          setFriendOnline(payload.user?.id, !!payload.online);
        } else if (event === 'dm.created' && payload.message?.from?.id !== me.id) {
          notifyDirectMessage(payload.message);
        }
      },
    })
    .then(() => {
      root.dataset.inbox = 'joined';
    })
    .catch((error) => showError(errorText(error)));
}

const inboxEvents = {};
if (config.mode === 'dm') dmPage(inboxEvents);
const inboxJoined = joinInbox(inboxEvents);
if (config.mode === 'channel') channelPage();
else if (config.mode === 'index') {
  inboxJoined.then(() => {
    root.dataset.joined = 'true';
  });
}

// For debugging from the console (and end-to-end tests): the page's client.
window.chatClient = rt;
