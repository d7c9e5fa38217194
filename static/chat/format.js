/**
 * Pure helpers of the chat pages (no DOM, no network), so node:test can check
 * them: tests/js/chat_format.test.mjs.
 *
 * @module chat/format
 */
import { ERROR } from '../realtime/protocol.js';

/**
 * The typing line for the names of the people typing, in the order they
 * started: "Ann is typing…", "Ann and Ben are typing…",
 * "Ann and 2 others are typing…"; empty when nobody types.
 * @param {string[]} names
 * @returns {string}
 */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names[0]} and ${names.length - 1} others are typing…`;
}

/**
 * The name to show for a protocol user object U.
 * @param {{username?: string, display_name?: string}|null|undefined} user
 * @returns {string}
 */
export function displayName(user) {
  if (!user) return 'Someone';
  return user.display_name || user.username || 'Someone';
}

/**
 * One shape for channel messages M and direct messages D, so a single list
 * renders both. `key` orders the list: the channel's `seq` for M, the `id`
 * for D (both grow with time). `read`: a D its recipient has read (`read_at`
 * set); channel messages are never `read`.
 * @param {object} raw M or D from the protocol or REST
 * @returns {{id: number, key: number, author: object, body: string, clientId: string|null,
 *   createdAt: string|null, editedAt: string|null, deleted: boolean, read: boolean}}
 */
export function normalizeMessage(raw) {
  const author = raw.author ?? raw.from ?? null;
  return {
    id: raw.id,
    key: Number.isInteger(raw.seq) ? raw.seq : raw.id,
    author,
    body: raw.deleted ? '' : (raw.body ?? ''),
    clientId: raw.client_id ?? null,
    createdAt: raw.created_at ?? null,
    editedAt: raw.edited_at ?? null,
    deleted: !!raw.deleted,
    read: !!raw.read_at,
  };
}

/**
 * What an inbox `dm.read` `{"with": U, "up_to": id, "reader": U}` means for
 * the inbox's owner `myId`: `byMe` true, "I read the messages `friendId` sent
 * me, up to `upTo`"; false, "`friendId` read the messages I sent them, up to
 * `upTo`". Null for a payload that cannot say (no `reader`, as in events
 * stored before the server sent it, or malformed ids).
 * @param {{with?: {id: number}, up_to?: number, reader?: {id: number}}|null} payload
 * @param {number} myId
 * @returns {{friendId: number, upTo: number, byMe: boolean}|null}
 */
export function dmReadMeaning(payload, myId) {
  const friendId = payload?.with?.id;
  const readerId = payload?.reader?.id;
  const upTo = payload?.up_to;
  if (!Number.isInteger(friendId) || !Number.isInteger(readerId) || !Number.isInteger(upTo)) return null;
  if (readerId !== myId && readerId !== friendId) return null;
  return { friendId, upTo, byMe: readerId === myId };
}

/**
 * The desktop notification for a direct message someone sent me: the title
 * and the options of `page.notify` (its `url` opens the conversation).
 * @param {{from?: {id?: number, username?: string, display_name?: string}, body?: string, deleted?: boolean}} message D
 * @param {string} dmBase the conversations' URL prefix (`config.urls.dm_base`)
 * @returns {{title: string, options: {body: string, tag: string, url?: string}}}
 */
export function dmNotification(message, dmBase) {
  const from = message.from;
  const options = { body: message.deleted ? '' : (message.body ?? ''), tag: `dm-${from?.id}` };
  if (from?.username) options.url = `${dmBase}${encodeURIComponent(from.username)}/`;
  return { title: `Message from ${displayName(from)}`, options };
}

/**
 * Short local time for an ISO 8601 timestamp ("14:05"), or '' when absent.
 * @param {string|null} iso
 * @returns {string}
 */
export function shortTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * The text of a server error for the user: its message, or the first field
 * problem, or the code.
 * @param {any} error an Error from RealtimeClient (`.code`, `.fields`,
 *   `.message`) or a REST error body
 * @returns {string}
 */
export function errorText(error) {
  if (!error) return 'Something went wrong.';
  const fields = error.fields && typeof error.fields === 'object' ? Object.values(error.fields) : [];
  const first = fields.flat().find((value) => typeof value === 'string' && value);
  if (error.code === ERROR.NOT_CONNECTED || error.code === ERROR.DISCONNECTED) return 'Not connected; try again.';
  if (error.code === ERROR.QUEUE_FULL) return 'Too many messages waiting for the connection.';
  if (error.code === ERROR.TOO_LARGE) return 'That message is too long.';
  return error.message || error.detail || first || error.code || 'Something went wrong.';
}
