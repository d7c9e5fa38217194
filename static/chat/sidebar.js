/**
 * The chat sidebar: unread badges of channels, of direct messages in total
 * and per friend, and friends' online dots (plus the DM peer's status line).
 * Driven by the inbox's `unread` counters and `friends_online`/`presence`.
 *
 * @module chat/sidebar
 */

/**
 * What a badge shows for a count: "0".."99", then "99+".
 * @param {any} count
 * @returns {{count: number, text: string, hidden: boolean}}
 */
export function badgeView(count) {
  const n = Number(count) || 0;
  return { count: n, text: n > 99 ? '99+' : String(n), hidden: n === 0 };
}

/** @param {HTMLElement|null} badge @param {any} count */
export function setBadge(badge, count) {
  if (!badge) return;
  const view = badgeView(count);
  badge.textContent = view.text;
  badge.dataset.count = String(view.count);
  badge.hidden = view.hidden;
}

export class Sidebar {
  /**
   * @param {HTMLElement} root the `.chat` element
   * @param {{peerId?: number|null}} [options] the DM page's peer, whose status line follows their presence
   */
  constructor(root, { peerId = null } = {}) {
    this.root = root;
    this.peerId = peerId;
  }

  applyChannelUnread(channels = {}) {
    for (const item of this.root.querySelectorAll('[data-channel-id]')) {
      setBadge(item.querySelector('.badge'), channels[item.dataset.channelId] ?? 0);
    }
  }

  friendItem(userId) {
    return this.root.querySelector(`#friend-list [data-user-id="${Number(userId)}"]`);
  }

  friendIds() {
    return [...this.root.querySelectorAll('#friend-list [data-user-id]')].map((item) => Number(item.dataset.userId));
  }

  setFriendUnread(userId, count) {
    const item = this.friendItem(userId);
    if (item) setBadge(item.querySelector('.badge'), count);
  }

  setFriendOnline(userId, online) {
    const item = this.friendItem(userId);
    if (item) {
      item.dataset.online = online ? 'true' : 'false';
      const dot = item.querySelector('.dot');
      if (dot) dot.title = online ? 'online' : 'offline';
    }
    if (this.peerId !== null && this.peerId === Number(userId)) {
      const status = this.root.querySelector('#peer-status');
      if (status) {
        status.dataset.online = online ? 'true' : 'false';
        status.textContent = online ? 'online' : 'offline';
      }
    }
  }

  /**
   * The inbox counters: channel badges, the DM total and each friend's badge
   * (`dms_by_user` lists only friends with unread messages).
   */
  applyUnread(unread) {
    if (!unread) return;
    if (unread.channels) this.applyChannelUnread(unread.channels);
    setBadge(this.root.querySelector('#dm-unread-total'), unread.dms ?? 0);
    if (unread.dms_by_user) {
      for (const id of this.friendIds()) this.setFriendUnread(id, unread.dms_by_user[String(id)] ?? 0);
    }
  }

  /** The inbox join reply's `friends_online`: every friend's dot (and the DM peer's status) from the snapshot. */
  applyFriendsOnline(ids) {
    if (!Array.isArray(ids)) return;
    const online = new Set(ids.map(Number));
    for (const id of this.friendIds()) this.setFriendOnline(id, online.has(id));
  }
}
