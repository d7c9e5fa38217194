/**
 * The notifications list as the bell and the /notifications/ page keep it:
 * pure state, no DOM, so node:test checks it. Each inbox event is one method.
 *
 * @module notifications/state
 */

/** How many the bell's dropdown shows. */
export const BELL_SIZE = 10;

export class NotificationList {
  /** @param {{limit?: number}} [options] */
  constructor({ limit = Infinity } = {}) {
    this.limit = limit;
    /** Newest first. */
    this.items = [];
    this.unread = 0;
  }

  /** Replace the whole list (a REST page, newest first). */
  load(items) {
    this.items = (items ?? []).slice(0, this.limit);
  }

  setUnread(count) {
    this.unread = Number.isInteger(count) && count > 0 ? count : 0;
  }

  /** `notification.created` and `notification.updated`: the one at the top, replacing an older copy. */
  upsert(notification) {
    if (!notification || typeof notification.id !== 'number') return;
    this.items = [notification, ...this.items.filter((item) => item.id !== notification.id)].slice(0, this.limit);
  }

  /** `notification.deleted`. */
  remove(id) {
    this.items = this.items.filter((item) => item.id !== id);
  }

  /** `notifications.read`. */
  markRead(ids) {
    const read = new Set(ids ?? []);
    this.items = this.items.map((item) => (read.has(item.id) ? { ...item, read: true } : item));
  }
}

/** The badge text: '' at zero, '99+' past 99. */
export function badgeText(count) {
  if (!count) return '';
  return count > 99 ? '99+' : String(count);
}

/** Relative age for people: "just now", "5 min", "3 h", "2 d". */
export function ageText(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const seconds = Math.max(0, (now - then) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}
