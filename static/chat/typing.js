/**
 * Typing, both ways: the line saying who is typing, and the sender of our own
 * typing events while the message box changes.
 *
 * @module chat/typing
 */
import { displayName, typingText } from './format.js';

/** A typing line outlives the last typing event by this much (ms). */
export const TYPING_CLEAR_MS = 3000;
/** While typing goes on, it is sent again this often (ms); the server forwards at most 1/s. */
export const TYPING_RESEND_MS = 1500;

/** The line naming who is typing, in the order they started; never oneself. */
export class TypingLine {
  /**
   * @param {HTMLElement|null} node
   * @param {{id: number}} me
   * @param {{setTimeout?: Function, clearTimeout?: Function}} [clock]
   */
  constructor(node, me, { setTimeout: set = (fn, ms) => globalThis.setTimeout(fn, ms), clearTimeout: clear = (id) => globalThis.clearTimeout(id) } = {}) {
    this.node = node;
    this.me = me;
    this._setTimeout = set;
    this._clearTimeout = clear;
    this.typers = new Map(); // user id -> {name, timer}, in the order they started
  }

  /**
   * @param {{id: number, username?: string, display_name?: string}|null|undefined} user
   * @param {boolean} typing
   */
  set(user, typing) {
    if (!user || user.id === this.me.id || !this.node) return;
    const current = this.typers.get(user.id);
    if (current) this._clearTimeout(current.timer);
    if (typing) {
      const timer = this._setTimeout(() => this.set(user, false), TYPING_CLEAR_MS);
      this.typers.set(user.id, { name: displayName(user), timer });
    } else {
      this.typers.delete(user.id);
    }
    this.node.textContent = typingText([...this.typers.values()].map((typer) => typer.name));
  }
}

/**
 * Calls `send(true)` when the user starts typing in `input` and again every
 * TYPING_RESEND_MS while they go on, `send(false)` when the box is emptied.
 * Returns `stop()`: sends `false` if typing was announced (a message was sent).
 * @param {HTMLTextAreaElement|HTMLInputElement} input
 * @param {(typing: boolean) => void} send
 * @param {{now?: () => number}} [clock]
 * @returns {() => void}
 */
export function typingSender(input, send, { now = () => Date.now() } = {}) {
  let announced = false;
  let lastSent = -Infinity;
  input.addEventListener('input', () => {
    if (!input.value.trim()) {
      if (announced) send(false);
      announced = false;
      lastSent = -Infinity;
      return;
    }
    const at = now();
    if (at - lastSent >= TYPING_RESEND_MS) {
      announced = true;
      lastSent = at;
      send(true);
    }
  });
  return () => {
    if (announced) send(false);
    announced = false;
    lastSent = -Infinity;
  };
}
