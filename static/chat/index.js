/**
 * The chat pages' module (/chat/, /chat/<id>/, /chat/dm/<username>/), mounted
 * by the page bootstrap (static/realtime/page.js) on the `.chat` element that
 * templates/chat/layout.html marks with `data-module`; its config is the
 * view's `chat_config` (`#chat-config`).
 *
 * Live data comes from the page's one client: channel topics joined here,
 * direct messages, counters and friends' presence from the page's inbox.
 * User data only ever reaches the DOM through textContent.
 *
 * @module chat/index
 */
import { CLOSE, INBOX } from '../realtime/protocol.js';
import { mountChannelPage } from './channel-page.js';
import { conversationElements } from './conversation.js';
import { mountDmPage } from './dm-page.js';
import { ErrorLine } from './error-line.js';
import { dmNotification, errorText } from './format.js';
import { Sidebar } from './sidebar.js';
import { TypingLine } from './typing.js';

/**
 * Wire the sidebar to the inbox: counters and friends online on every
 * (re)join and live, and a desktop notification for each direct message
 * someone else sends while the tab is hidden.
 * @returns {() => void} unsubscribe
 */
export function followInbox(inbox, sidebar, { me, notify, dmBase }) {
  const stops = [
    // Every (re)join: the counters and who is online now (presence events
    // missed while disconnected are not replayed).
    inbox.onJoin((reply) => {
      sidebar.applyUnread(reply.unread);
      sidebar.applyFriendsOnline(reply.friends_online);
    }),
    inbox.on(INBOX.UNREAD, (payload) => sidebar.applyUnread(payload)),
    inbox.on(INBOX.PRESENCE, (payload) => sidebar.setFriendOnline(payload?.user?.id, !!payload?.online)),
    inbox.on(INBOX.DM_CREATED, (payload) => {
      const message = payload?.message;
      if (!message || message.from?.id === me.id) return;
      const { title, options } = dmNotification(message, dmBase);
      notify(title, options);
    }),
  ];
  return () => stops.forEach((stop) => stop());
}

/**
 * @param {HTMLElement} root the `.chat` element
 * @param {{mode: 'index'|'channel'|'dm', me: object, urls: object, channel?: object, peer?: object}} config
 * @param {any} rt the page's RealtimeClient
 * @param {{inbox: any, notify: Function}} page the page bootstrap's helpers
 * @param {{document?: Document, location?: Location, setTimeout?: Function, clearTimeout?: Function}} [env] globals (tests)
 * @returns {Promise<void>|undefined}
 */
export function mount(root, config, rt, page, env = {}) {
  const { document: doc = globalThis.document, location: loc = globalThis.location } = env;
  const clock = {
    setTimeout: env.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
    clearTimeout: env.clearTimeout ?? ((id) => globalThis.clearTimeout(id)),
  };
  const me = config.me;
  const errors = new ErrorLine(root.querySelector('#chat-error'), clock);
  const sidebar = new Sidebar(root, { peerId: config.peer?.id ?? null });
  const ui = conversationElements(root);
  const ctx = {
    root,
    config,
    rt,
    me,
    ui,
    errors,
    inbox: page.inbox,
    typingLine: new TypingLine(ui.typing, me, clock),
    document: doc,
    location: loc,
    clock,
  };

  rt.on('close', ({ code }) => {
    if (code === CLOSE.REMOVED) errors.show('You were removed from this conversation.');
  });

  followInbox(page.inbox, sidebar, { me, notify: page.notify, dmBase: config.urls.dm_base });
  const inboxJoined = page.inbox.ready.then(
    () => {
      root.dataset.inbox = 'joined';
    },
    (error) => errors.show(errorText(error)),
  );

  if (config.mode === 'dm') mountDmPage(ctx);
  else if (config.mode === 'channel') return mountChannelPage(ctx);
  else if (config.mode === 'index') {
    // The list page has nothing else to join: it is ready once the inbox answered.
    return inboxJoined.then(() => {
      root.dataset.joined = 'true';
    });
  }
  return undefined;
}
