/**
 * The chat pages' visible error line (`#chat-error`): one message at a time,
 * hidden again after a while.
 *
 * @module chat/error-line
 */

/** How long an error stays visible, in ms. */
export const ERROR_VISIBLE_MS = 15000;

export class ErrorLine {
  /**
   * @param {HTMLElement|null} node the line; without one, errors are dropped
   * @param {{setTimeout?: Function, clearTimeout?: Function}} [clock]
   */
  constructor(node, { setTimeout: set = (fn, ms) => globalThis.setTimeout(fn, ms), clearTimeout: clear = (id) => globalThis.clearTimeout(id) } = {}) {
    this.node = node;
    this._setTimeout = set;
    this._clearTimeout = clear;
    this._timer = null;
  }

  /** @param {string} text */
  show(text) {
    if (!this.node) return;
    this.node.textContent = text;
    this.node.hidden = false;
    this._clearTimeout(this._timer);
    this._timer = this._setTimeout(() => {
      this.node.hidden = true;
    }, ERROR_VISIBLE_MS);
  }

  clear() {
    if (!this.node) return;
    this.node.hidden = true;
    this.node.textContent = '';
  }
}
