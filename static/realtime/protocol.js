/**
 * The strings of the realtime protocol, version 1 (docs/protocol.md), in one
 * place: frame ops, close codes, error codes, client states, topics and the
 * event names pages use. The client, the page bootstrap and every app's page
 * module import them from here instead of spelling them out.
 *
 * Pure data, no side effects.
 *
 * @module realtime/protocol
 */

/** The protocol version this client speaks (`hello.protocol`). */
export const PROTOCOL_VERSION = 1;

/** Frame `op`s (protocol section 2). */
export const OP = Object.freeze({
  // client to server
  JOIN: 'join',
  LEAVE: 'leave',
  SEND: 'send',
  PING: 'ping',
  AUTH: 'auth',
  // server to client
  HELLO: 'hello',
  REPLY: 'reply',
  EVENT: 'event',
  PONG: 'pong',
  ERROR: 'error',
});

/** WebSocket close codes (protocol section 2) and the two standard ones the client uses. */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  SERVER_ERROR: 1011,
  PROTOCOL_ERRORS: 4400,
  UNAUTHORIZED: 4401,
  REMOVED: 4403,
  IDLE: 4408,
  TOO_LARGE: 4413,
  RATE_LIMITED: 4429,
});

/**
 * Error `code`s: the server's (protocol section 2) and the ones the bundled
 * client raises itself.
 */
export const ERROR = Object.freeze({
  BAD_REQUEST: 'bad_request',
  INVALID: 'invalid',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  NOT_JOINED: 'not_joined',
  RATE_LIMITED: 'rate_limited',
  TOO_MANY_TOPICS: 'too_many_topics',
  CONFLICT: 'conflict',
  SERVER_ERROR: 'server_error',
  // raised by the client
  NOT_CONNECTED: 'not_connected',
  DISCONNECTED: 'disconnected',
  QUEUE_FULL: 'queue_full',
  TOO_LARGE: 'too_large',
  CLOSED: 'closed',
});

/** RealtimeClient `state`s. */
export const STATE = Object.freeze({
  CONNECTING: 'connecting',
  OPEN: 'open',
  RECONNECTING: 'reconnecting',
  CLOSED: 'closed',
});

/** Topic names (protocol section 4). */
export const TOPIC = Object.freeze({
  INBOX: 'inbox',
  CHAT_PREFIX: 'chat:',
  SHARE_PREFIX: 'share:',
  UPLOAD_PREFIX: 'upload:',
  /** @param {number|string} channelId */
  chat: (channelId) => `chat:${channelId}`,
  /** @param {string} token */
  share: (token) => `share:${token}`,
  /** @param {string} sessionId */
  upload: (sessionId) => `upload:${sessionId}`,
});

/** `chat:<channel_id>` send and server events (protocol 4.1, section 8). */
export const CHAT = Object.freeze({
  // sends
  MESSAGE_CREATE: 'message.create',
  MESSAGE_UPDATE: 'message.update',
  MESSAGE_DELETE: 'message.delete',
  TYPING: 'typing', // also the server event
  READ: 'read', // also the server event
  // server events
  MESSAGE_CREATED: 'message.created',
  MESSAGE_UPDATED: 'message.updated',
  MESSAGE_DELETED: 'message.deleted',
  CHANNEL_UPDATED: 'channel.updated',
  MEMBER_LEFT: 'member.left',
  PRESENCE_DIFF: 'presence.diff',
});

/** `inbox` send and server events (protocol 4.2, section 8). */
export const INBOX = Object.freeze({
  // sends
  DM_SEND: 'dm.send',
  DM_UPDATE: 'dm.update',
  DM_DELETE: 'dm.delete',
  DM_TYPING: 'dm.typing', // also the server event
  DM_READ: 'dm.read', // also the server event
  NOTIFICATIONS_READ: 'notifications.read', // also the server event
  // server events
  DM_CREATED: 'dm.created',
  DM_UPDATED: 'dm.updated',
  DM_DELETED: 'dm.deleted',
  UNREAD: 'unread',
  PRESENCE: 'presence',
  NOTIFICATION_CREATED: 'notification.created',
  NOTIFICATION_UPDATED: 'notification.updated',
  NOTIFICATION_DELETED: 'notification.deleted',
});
