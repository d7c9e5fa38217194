/**
 * The rendered messages of one conversation (a channel or a DM), with their
 * sending/sent/read/failed marks and the author's edit and delete actions.
 *
 * @module chat/message-list
 */
import { el } from './dom.js';
import { displayName, errorText, normalizeMessage, shortTime } from './format.js';

/** How long "Confirm delete" waits for the second click (ms). */
export const CONFIRM_DELETE_MS = 4000;

/**
 * The rendered messages of one conversation, each exactly once: keyed by id,
 * and before the server answered by the client_id of our own send, so the
 * send reply and the live event of the same message meet in one entry.
 */
export class MessageList {
  /**
   * @param {HTMLElement} container the `<ol>` of messages
   * @param {object} options
   * @param {{id: number}} options.me the signed-in user
   * @param {{send: Function}} options.rt the page's RealtimeClient (edits and deletes)
   * @param {string} options.topic
   * @param {string} options.updateEvent
   * @param {string} options.deleteEvent
   * @param {(entry: object) => void} options.resend sends a failed message again
   * @param {(text: string) => void} options.showError
   * @param {Function} [options.setTimeout]
   */
  constructor(container, { me, rt, topic, updateEvent, deleteEvent, resend, showError, setTimeout: set = (fn, ms) => globalThis.setTimeout(fn, ms) }) {
    this.container = container;
    this.me = me;
    this.rt = rt;
    this.topic = topic;
    this.updateEvent = updateEvent;
    this.deleteEvent = deleteEvent;
    this.resend = resend;
    this.showError = showError;
    this._setTimeout = set;
    this.byId = new Map();
    this.byClientId = new Map();
  }

  /** The oldest confirmed entry's ordering key (the `before` cursor). */
  oldestKey() {
    for (const node of this.container.children) {
      const entry = node._entry;
      if (entry && entry.msg.id != null) return entry.msg.key;
    }
    return null;
  }

  /** The newest confirmed message matching `predicate`, or null. */
  newest(predicate = () => true) {
    const nodes = this.container.children;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const entry = nodes[i]._entry;
      if (entry && entry.msg.id != null && predicate(entry.msg)) return entry.msg;
    }
    return null;
  }

  isMine(msg) {
    return msg.author?.id === this.me.id;
  }

  /**
   * Apply a message from the server. `current`: the payload is the message's
   * current state (reply, REST, update/delete event). A `*.created` event is
   * not: replayed after a re-join it may be older than what is shown, so it
   * only adds what is missing.
   */
  upsert(raw, { current = true } = {}) {
    const msg = normalizeMessage(raw);
    let entry = this.byId.get(msg.id);
    if (!entry && msg.clientId && this.isMine(msg)) {
      entry = this.byClientId.get(msg.clientId);
    }
    if (!entry) {
      entry = this._create(msg, 'sent');
      this._place(entry);
      this._render(entry);
      return entry;
    }
    const wasPending = entry.msg.id == null;
    // Read marks only ever move forward: a payload older than a dm.read does not undo it.
    if (current || wasPending) entry.msg = { ...msg, author: msg.author ?? entry.msg.author, read: msg.read || entry.msg.read };
    this.byId.set(msg.id, entry);
    entry.status = 'sent';
    entry.error = null;
    if (wasPending) this._place(entry);
    this._render(entry);
    return entry;
  }

  /** A message of ours not yet confirmed, shown at the end as "sending". */
  addPending(clientId, body) {
    const msg = { id: null, key: Infinity, author: this.me, body, clientId, createdAt: null, editedAt: null, deleted: false, read: false };
    const entry = this._create(msg, 'sending');
    this.container.append(entry.node);
    this._render(entry);
    return entry;
  }

  setStatus(entry, status, detail) {
    if (entry.msg.id != null && status !== 'sent') return; // confirmed by a live event first
    entry.status = entry.msg.id != null ? 'sent' : status;
    entry.error = status === 'failed' ? errorText(detail) : null;
    this._render(entry);
  }

  /** Our own confirmed messages up to id `upTo` were read by their recipient (a DM's `dm.read`). */
  markMineRead(upTo) {
    for (const entry of this.byId.values()) {
      if (!this.isMine(entry.msg) || entry.msg.read || entry.msg.id > upTo) continue;
      entry.msg = { ...entry.msg, read: true };
      this._render(entry);
    }
  }

  /** Forget confirmed messages (after a stream reset); unsent ones stay. */
  clearConfirmed() {
    for (const entry of this.byId.values()) {
      entry.node.remove();
      if (entry.msg.clientId) this.byClientId.delete(entry.msg.clientId);
    }
    this.byId.clear();
  }

  _create(msg, status) {
    const node = el('li', { className: 'msg' });
    const entry = { msg, status, error: null, node, editing: false, confirmingDelete: false };
    node._entry = entry;
    if (msg.id != null) this.byId.set(msg.id, entry);
    if (msg.clientId && this.isMine(msg)) this.byClientId.set(msg.clientId, entry);

    entry.author = el('span', { className: 'msg-author' });
    entry.time = el('time', { className: 'msg-time' });
    entry.edited = el('span', { className: 'msg-edited', text: '(edited)' });
    entry.statusNode = el('span', { className: 'msg-status' });
    entry.body = el('div', { className: 'msg-body' });
    entry.errorNode = el('div', { className: 'msg-error', role: 'alert' });
    entry.actions = el('div', { className: 'msg-actions' });
    node.append(
      el('div', { className: 'msg-head' }, entry.author, entry.time, entry.edited, entry.statusNode),
      entry.body,
      entry.errorNode,
      entry.actions,
    );
    return entry;
  }

  /** Keep confirmed messages ordered by key; unconfirmed ones stay at the end. */
  _place(entry) {
    const key = entry.msg.key;
    const nodes = this.container.children;
    let before = null;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const other = nodes[i]._entry;
      if (!other || other === entry) continue;
      if (other.msg.id == null || other.msg.key > key) before = nodes[i];
      else break;
    }
    if (before) this.container.insertBefore(entry.node, before);
    else this.container.append(entry.node);
  }

  _render(entry) {
    const { msg, node } = entry;
    const mine = this.isMine(msg);
    node.dataset.id = msg.id ?? '';
    node.dataset.clientId = msg.clientId ?? '';
    node.dataset.status = entry.status;
    node.dataset.read = mine && msg.read ? 'true' : 'false';
    node.classList.toggle('mine', mine);
    node.classList.toggle('deleted', msg.deleted);
    entry.author.textContent = displayName(msg.author);
    entry.time.textContent = shortTime(msg.createdAt);
    if (msg.createdAt) entry.time.dateTime = msg.createdAt;
    entry.edited.hidden = !msg.editedAt || msg.deleted;
    entry.body.textContent = msg.deleted ? 'message deleted' : msg.body;
    entry.body.hidden = entry.editing;
    const status = entry.status === 'sent' && msg.read ? 'read' : entry.status;
    entry.statusNode.textContent = mine ? { sending: 'sending…', sent: 'sent', read: 'read', failed: 'failed' }[status] : '';
    entry.errorNode.textContent = entry.error ?? '';
    entry.errorNode.hidden = !entry.error;
    if (msg.deleted && entry.editing) this._closeEditor(entry);
    this._renderActions(entry, mine);
  }

  _renderActions(entry, mine) {
    const { msg } = entry;
    entry.actions.replaceChildren();
    if (!mine) return;
    if (entry.status === 'failed' && msg.id == null) {
      entry.actions.append(this._button('Retry', 'msg-retry', () => this.resend(entry)));
      return;
    }
    if (msg.id == null || msg.deleted || entry.editing) return;
    entry.actions.append(this._button('Edit', 'msg-edit', () => this._openEditor(entry)));
    const label = entry.confirmingDelete ? 'Confirm delete' : 'Delete';
    entry.actions.append(this._button(label, 'msg-delete', () => this._delete(entry)));
  }

  _button(text, className, onClick) {
    const button = el('button', { type: 'button', className: `link ${className}`, text });
    button.addEventListener('click', onClick);
    return button;
  }

  _openEditor(entry) {
    entry.editing = true;
    const input = el('textarea', { className: 'msg-edit-input', rows: 2, maxlength: 4000, 'aria-label': 'Edit message' });
    input.value = entry.msg.body;
    const save = el('button', { type: 'submit', className: 'msg-save', text: 'Save' });
    const cancel = el('button', { type: 'button', className: 'link msg-cancel', text: 'Cancel' });
    const form = el('form', { className: 'msg-edit-form' }, input, el('div', { className: 'row' }, save, cancel));
    cancel.addEventListener('click', () => this._closeEditor(entry));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this._closeEditor(entry);
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (body === entry.msg.body) {
        this._closeEditor(entry);
        return;
      }
      save.disabled = true;
      this.rt.send(this.topic, this.updateEvent, { id: entry.msg.id, body }).then(
        (reply) => {
          this._closeEditor(entry);
          if (reply?.message) this.upsert(reply.message);
        },
        (error) => {
          save.disabled = false;
          this.showError(errorText(error));
        },
      );
    });
    entry.editor = form;
    entry.body.after(form);
    this._render(entry);
    input.focus();
  }

  _closeEditor(entry) {
    if (!entry.editing) return;
    entry.editing = false;
    entry.editor?.remove();
    entry.editor = null;
    this._render(entry);
  }

  _delete(entry) {
    if (!entry.confirmingDelete) {
      entry.confirmingDelete = true;
      this._render(entry);
      this._setTimeout(() => {
        entry.confirmingDelete = false;
        this._render(entry);
      }, CONFIRM_DELETE_MS);
      return;
    }
    entry.confirmingDelete = false;
    this.rt.send(this.topic, this.deleteEvent, { id: entry.msg.id }).then(
      (reply) => {
        if (reply?.message) this.upsert(reply.message);
      },
      (error) => this.showError(errorText(error)),
    );
  }
}
