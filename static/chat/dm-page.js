/**
 * A direct-message page (/chat/dm/<username>/): the conversation with one
 * friend over the page's inbox (`page.inbox`), its history over REST, typing
 * and read marks both ways.
 *
 * @module chat/dm-page
 */
import { INBOX, TOPIC } from '../realtime/protocol.js';
import { dmReadMeaning, errorText } from './format.js';
import { openConversation, PAGE_SIZE } from './conversation.js';
import { getJson } from './rest.js';

/**
 * @param {object} ctx see index.js; `ctx.config.peer` is the other person,
 *   `ctx.inbox` the page's inbox dispatcher
 */
export function mountDmPage(ctx) {
  const { root, config, me, errors, typingLine, inbox, location: loc } = ctx;
  const peer = config.peer;
  let readAt = new Map(); // id -> read_at of the peer's messages

  const conv = openConversation(ctx, {
    topic: TOPIC.INBOX,
    createEvent: INBOX.DM_SEND,
    updateEvent: INBOX.DM_UPDATE,
    deleteEvent: INBOX.DM_DELETE,
    typingEvent: INBOX.DM_TYPING,
    createPayload: (body) => ({ to: peer.id, body }),
    typingPayload: (typing) => ({ to: peer.id, typing }),
    historyUrl: config.urls.history,
    cursorParam: config.urls.cursor_param,
    readMark: (list, lastRead) => {
      const newest = list.newest((msg) => msg.author?.id === peer.id);
      if (!newest || newest.id <= (lastRead ?? 0)) return null;
      // Already read before this page opened: nothing to mark.
      if (lastRead === null && readAt.get(newest.id)) return null;
      return { event: INBOX.DM_READ, payload: { with: peer.id, up_to: newest.id }, position: newest.id };
    },
  });

  function remember(raw) {
    if (raw.from?.id === peer.id) readAt.set(raw.id, raw.read_at ?? null);
  }

  function inConversation(message) {
    const ids = [message.from?.id, message.to?.id];
    return ids.includes(peer.id) && ids.includes(me.id);
  }

  async function loadLatest({ replace }) {
    try {
      const url = new URL(config.urls.history, loc.href);
      url.searchParams.set('limit', String(PAGE_SIZE));
      const page = await getJson(url.toString());
      const items = page.results ?? [];
      if (replace) readAt = new Map();
      items.forEach(remember);
      conv.applyHistory(items, { hasMore: !!page.previous, replace });
      conv.scrollToBottom();
      conv.markRead();
    } catch (error) {
      errors.show(errorText(error));
    } finally {
      root.dataset.joined = 'true';
    }
  }

  inbox.onJoin((reply, { rejoin, reset }) => {
    if (!rejoin) loadLatest({ replace: false });
    else if (reset) loadLatest({ replace: true });
  });

  const onMessage = (payload, frame) => {
    const message = payload?.message;
    if (!message || !inConversation(message)) return;
    remember(message);
    conv.onMessageEvent(frame.event, payload);
  };
  for (const event of [INBOX.DM_CREATED, INBOX.DM_UPDATED, INBOX.DM_DELETED]) inbox.on(event, onMessage);

  inbox.on(INBOX.DM_TYPING, (payload) => {
    if (payload?.from?.id === peer.id) typingLine.set(payload.from, !!payload.typing);
  });

  inbox.on(INBOX.DM_READ, (payload) => {
    const read = dmReadMeaning(payload, me.id);
    if (!read || read.friendId !== peer.id) return;
    if (read.byMe) {
      // Read here or on another device of mine: nothing left to mark up to there.
      for (const id of readAt.keys()) if (id <= read.upTo && !readAt.get(id)) readAt.set(id, true);
    } else {
      conv.list.markMineRead(read.upTo); // the peer read what I sent
    }
  });
}
