/**
 * The wiring one conversation view needs, a channel's or a DM's: the message
 * list, the send form with sending/sent/failed marks, typing, read marks while
 * the newest message is in view, and "Load older messages" over REST. The
 * differences between the two come in `conv` (topic, event names, payloads,
 * history URL, read marks).
 *
 * @module chat/conversation
 */
import { errorText } from './format.js';
import { MessageList } from './message-list.js';
import { getJson } from './rest.js';
import { typingSender } from './typing.js';

/** Messages per history page (and in a channel's join reply). */
export const PAGE_SIZE = 50;
/** Closer than this to the bottom of the log counts as "at the bottom" (px). */
export const AT_BOTTOM_PX = 48;

/** A client_id for a message before it is sent, so its reply and live event meet in one entry. */
export function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The elements of a conversation page inside the chat root (missing ones are
 * null: the index page has none of them).
 * @param {HTMLElement} root
 */
export function conversationElements(root) {
  const find = (selector) => root.querySelector(selector);
  return {
    messages: find('#messages'),
    log: find('#message-log'),
    older: find('#load-older'),
    form: find('#send-form'),
    input: find('#message-input'),
    typing: find('#typing'),
  };
}

/**
 * @typedef {object} ConversationSpec
 * @property {string} topic
 * @property {string} createEvent
 * @property {string} updateEvent
 * @property {string} deleteEvent
 * @property {string} typingEvent
 * @property {(body: string) => object} createPayload
 * @property {(typing: boolean) => object} typingPayload
 * @property {string} historyUrl
 * @property {string} cursorParam
 * @property {(list: MessageList, lastRead: number|null) => ({event: string, payload: object, position: number}|null)} readMark
 */

/**
 * @param {object} ctx
 * @param {any} ctx.rt the page's RealtimeClient
 * @param {{id: number}} ctx.me
 * @param {ReturnType<typeof conversationElements>} ctx.ui
 * @param {{show: (text: string) => void, clear: () => void}} ctx.errors
 * @param {{set: Function}} ctx.typingLine
 * @param {Document} ctx.document for `hidden` and `visibilitychange`
 * @param {{href: string}} ctx.location
 * @param {{setTimeout: Function}} [ctx.clock]
 * @param {ConversationSpec} conv
 */
export function openConversation({ rt, me, ui, errors, typingLine, document: doc, location: loc, clock }, conv) {
  const { messages: messagesNode, log: logNode, older: olderButton, form, input } = ui;

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

  const list = new MessageList(messagesNode, {
    me,
    rt,
    topic: conv.topic,
    updateEvent: conv.updateEvent,
    deleteEvent: conv.deleteEvent,
    resend: (entry) => send(entry),
    showError: (text) => errors.show(text),
    ...(clock ? { setTimeout: clock.setTimeout } : {}),
  });

  function send(entry) {
    errors.clear();
    const payload = { ...conv.createPayload(entry.msg.body), client_id: entry.msg.clientId };
    rt.send(conv.topic, conv.createEvent, payload, {
      onStatus: (status, detail) => list.setStatus(entry, status, detail),
    }).then(
      (reply) => {
        if (reply?.message) keepingBottom(() => list.upsert(reply.message));
        markRead();
      },
      (error) => errors.show(errorText(error)),
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
    if (doc.hidden || !atBottom()) return;
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
  doc.addEventListener('visibilitychange', markRead);

  let loadingOlder = false;
  async function loadOlder() {
    if (loadingOlder) return;
    const before = list.oldestKey();
    loadingOlder = true;
    olderButton.disabled = true;
    try {
      const url = new URL(conv.historyUrl, loc.href);
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
      errors.show(errorText(error));
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

  /** A `*.created`/`*.updated`/`*.deleted` event; false for any other. */
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
