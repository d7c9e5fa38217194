/**
 * A channel's page (/chat/<id>/): the `chat:<id>` topic's messages, typing,
 * online members, read marks and live renames or archiving.
 *
 * @module chat/channel-page
 */
import { CHAT, TOPIC } from '../realtime/protocol.js';
import { el } from './dom.js';
import { displayName, errorText } from './format.js';
import { openConversation, PAGE_SIZE } from './conversation.js';

/**
 * The "online" members list: sorted by name, the signed-in user marked `me`.
 * @param {Map<number, object>} presence user id -> U
 * @returns {object[]}
 */
export function sortedMembers(presence) {
  return [...presence.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)));
}

/**
 * @param {object} ctx see index.js; `ctx.config.channel` is the channel
 * @returns {Promise<void>} settles once the first join was answered
 */
export function mountChannelPage(ctx) {
  const { root, config, rt, me, ui, errors, typingLine } = ctx;
  const channel = config.channel;
  const topic = TOPIC.chat(channel.id);
  const { form, input } = ui;

  const presence = new Map(); // user id -> U
  const onlineList = root.querySelector('#online-list');
  const onlineCount = root.querySelector('#online-count');

  function showChannel(data) {
    // An archived channel is read-only.
    input.disabled = !!data.is_archived;
    form.querySelector('button').disabled = !!data.is_archived;
    const title = root.querySelector('.chat-title h1');
    if (title && data.name) title.textContent = `#${data.name}`;
    const link = root.querySelector(`#channel-list [data-channel-id="${Number(data.id)}"] a`);
    if (link && data.name) link.textContent = `#${data.name}`;
  }

  function renderPresence(count) {
    onlineList.replaceChildren(
      ...sortedMembers(presence).map((user) =>
        el(
          'li',
          { 'data-user-id': user.id, className: user.id === me.id ? 'me' : null },
          el('span', { className: 'dot', 'aria-hidden': 'true' }),
          el('span', { text: displayName(user) }),
        ),
      ),
    );
    onlineCount.textContent = String(count ?? presence.size);
  }

  let lastReadSeq = 0; // the member's read mark on the server
  showChannel(channel);
  const conv = openConversation(ctx, {
    topic,
    createEvent: CHAT.MESSAGE_CREATE,
    updateEvent: CHAT.MESSAGE_UPDATE,
    deleteEvent: CHAT.MESSAGE_DELETE,
    typingEvent: CHAT.TYPING,
    createPayload: (body) => ({ body }),
    typingPayload: (typing) => ({ typing }),
    historyUrl: config.urls.history,
    cursorParam: config.urls.cursor_param,
    readMark: (list, lastRead) => {
      const newest = list.newest();
      if (!newest || newest.key <= (lastRead ?? lastReadSeq)) return null;
      return { event: CHAT.READ, payload: { seq: newest.key }, position: newest.key };
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
        if (event === CHAT.TYPING) typingLine.set(payload.user, !!payload.typing);
        else if (event === CHAT.CHANNEL_UPDATED && payload.channel) showChannel(payload.channel);
        else if (event === CHAT.PRESENCE_DIFF) {
          for (const user of payload.joins ?? []) presence.set(user.id, user);
          for (const user of payload.leaves ?? []) if (user.id !== me.id) presence.delete(user.id);
          renderPresence(payload.count);
        }
      },
      onError: (error) => errors.show(errorText(error)),
    })
    .then(() => {
      root.dataset.joined = 'true';
      conv.markRead();
    })
    .catch((error) => {
      errors.show(errorText(error));
      form.querySelector('button').disabled = true;
    });
}
