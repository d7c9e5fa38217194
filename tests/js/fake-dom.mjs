// A minimal DOM for node:test: enough of Element, Document and events for the
// page bootstrap and the chat modules (no npm dependencies). Selectors: tag,
// #id, .class, [attr] and [attr="value"], compounded and joined by descendant
// spaces; that is all the modules use.

const camelToData = (name) => `data-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const dataToCamel = (attr) => attr.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase());

class FakeEvent {
  constructor(type, init = {}) {
    this.type = type;
    this.defaultPrevented = false;
    Object.assign(this, init);
  }

  preventDefault() {
    this.defaultPrevented = true;
  }
}

class FakeText {
  constructor(text) {
    this.nodeType = 3;
    this.data = String(text);
    this.parentNode = null;
  }

  get textContent() {
    return this.data;
  }

  remove() {
    this.parentNode?._detach(this);
  }
}

/** Listeners as the DOM keeps them; an event's target is where it was first dispatched. */
class FakeEventTarget {
  constructor() {
    this.listeners = new Map();
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
  }

  removeEventListener(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  dispatchEvent(event) {
    event.target ??= this;
    for (const fn of [...(this.listeners.get(event.type) ?? [])]) fn(event);
    return !event.defaultPrevented;
  }
}

export class FakeElement extends FakeEventTarget {
  constructor(tag, ownerDocument) {
    super();
    this.nodeType = 1;
    this.tagName = tag.toUpperCase();
    this.localName = tag.toLowerCase();
    this.ownerDocument = ownerDocument;
    this.childNodes = [];
    this.parentNode = null;
    this.attributes = new Map();
    this.value = '';
    this.disabled = false;
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    this.focused = false;
    const el = this;
    this.dataset = new Proxy(
      {},
      {
        get: (_, key) => (typeof key === 'string' ? (el.getAttribute(camelToData(key)) ?? undefined) : undefined),
        set: (_, key, value) => {
          el.setAttribute(camelToData(key), String(value));
          return true;
        },
        deleteProperty: (_, key) => {
          el.removeAttribute(camelToData(key));
          return true;
        },
        has: (_, key) => el.hasAttribute(camelToData(key)),
        ownKeys: () => [...el.attributes.keys()].filter((a) => a.startsWith('data-')).map(dataToCamel),
        getOwnPropertyDescriptor: (_, key) =>
          el.hasAttribute(camelToData(key)) ? { enumerable: true, configurable: true, value: el.getAttribute(camelToData(key)) } : undefined,
      },
    );
    this.classList = {
      contains: (name) => el._classes().includes(name),
      add: (...names) => {
        el.className = [...new Set([...el._classes(), ...names])].join(' ');
      },
      remove: (...names) => {
        el.className = el._classes().filter((c) => !names.includes(c)).join(' ');
      },
      toggle: (name, force) => {
        const on = force === undefined ? !el.classList.contains(name) : !!force;
        if (on) el.classList.add(name);
        else el.classList.remove(name);
        return on;
      },
    };
  }

  _classes() {
    return (this.getAttribute('class') ?? '').split(/\s+/).filter(Boolean);
  }

  // -- attributes and reflected properties ------------------------------------

  setAttribute(name, value) {
    this.attributes.set(name.toLowerCase(), String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name.toLowerCase()) ? this.attributes.get(name.toLowerCase()) : null;
  }

  hasAttribute(name) {
    return this.attributes.has(name.toLowerCase());
  }

  removeAttribute(name) {
    this.attributes.delete(name.toLowerCase());
  }

  get id() {
    return this.getAttribute('id') ?? '';
  }

  set id(value) {
    this.setAttribute('id', value);
  }

  get className() {
    return this.getAttribute('class') ?? '';
  }

  set className(value) {
    this.setAttribute('class', value);
  }

  get hidden() {
    return this.hasAttribute('hidden');
  }

  set hidden(value) {
    if (value) this.setAttribute('hidden', '');
    else this.removeAttribute('hidden');
  }

  get title() {
    return this.getAttribute('title') ?? '';
  }

  set title(value) {
    this.setAttribute('title', value);
  }

  // -- tree -----------------------------------------------------------------------

  get children() {
    return this.childNodes.filter((node) => node.nodeType === 1);
  }

  get firstElementChild() {
    return this.children[0] ?? null;
  }

  get textContent() {
    return this.childNodes.map((node) => node.textContent).join('');
  }

  set textContent(value) {
    for (const node of this.childNodes) node.parentNode = null;
    this.childNodes = [];
    const text = value === null || value === undefined ? '' : String(value);
    if (text) this._attach(new FakeText(text), null);
  }

  _toNode(child) {
    return typeof child === 'string' ? new FakeText(child) : child;
  }

  _detach(node) {
    const i = this.childNodes.indexOf(node);
    if (i >= 0) this.childNodes.splice(i, 1);
    node.parentNode = null;
  }

  _attach(node, before) {
    node.parentNode?._detach(node);
    const i = before ? this.childNodes.indexOf(before) : -1;
    if (i >= 0) this.childNodes.splice(i, 0, node);
    else this.childNodes.push(node);
    node.parentNode = this;
    return node;
  }

  append(...nodes) {
    for (const node of nodes) this._attach(this._toNode(node), null);
  }

  appendChild(node) {
    return this._attach(node, null);
  }

  insertBefore(node, before) {
    return this._attach(node, before);
  }

  replaceChildren(...nodes) {
    for (const node of this.childNodes) node.parentNode = null;
    this.childNodes = [];
    this.append(...nodes);
  }

  after(...nodes) {
    const parent = this.parentNode;
    if (!parent) return;
    const next = parent.childNodes[parent.childNodes.indexOf(this) + 1] ?? null;
    for (const node of nodes) parent._attach(parent._toNode(node), next);
  }

  remove() {
    this.parentNode?._detach(this);
  }

  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  // -- selectors ------------------------------------------------------------------

  *_descendants() {
    for (const child of this.children) {
      yield child;
      yield* child._descendants();
    }
  }

  matches(selector) {
    return matchesSelector(this, parseSelector(selector));
  }

  querySelectorAll(selector) {
    const parsed = parseSelector(selector);
    return [...this._descendants()].filter((node) => matchesSelector(node, parsed));
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }

  getElementById(id) {
    return [...this._descendants()].find((node) => node.id === id) ?? null;
  }

  // -- events -----------------------------------------------------------------------


  click() {
    if (!this.disabled) this.dispatchEvent(new FakeEvent('click'));
  }

  focus() {
    this.focused = true;
  }

  requestSubmit() {
    this.dispatchEvent(new FakeEvent('submit'));
  }

  /** Test helper: type `text` as the whole value and fire `input`. */
  type(text) {
    this.value = text;
    this.dispatchEvent(new FakeEvent('input'));
  }

  /** Test helper: fire a keydown. */
  key(key, init = {}) {
    return this.dispatchEvent(new FakeEvent('keydown', { key, ...init }));
  }
}

// -- a tiny selector engine ----------------------------------------------------------

function parseCompound(text) {
  const parts = { tag: null, id: null, classes: [], attrs: [] };
  const re = /^([a-zA-Z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:="([^"]*)")?\]/g;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) break;
    consumed += m[0].length;
    if (m[1]) parts.tag = m[1].toLowerCase();
    else if (m[2]) parts.id = m[2];
    else if (m[3]) parts.classes.push(m[3]);
    else parts.attrs.push({ name: m[4], value: m[5] });
  }
  if (consumed !== text.length) throw new Error(`fake-dom: unsupported selector part ${JSON.stringify(text)}`);
  return parts;
}

function parseSelector(selector) {
  // Split on whitespace outside [...] (values here never contain spaces).
  return selector.trim().split(/\s+(?![^[]*\])/).map(parseCompound);
}

function matchesCompound(node, c) {
  if (c.tag && node.localName !== c.tag) return false;
  if (c.id && node.id !== c.id) return false;
  for (const name of c.classes) if (!node.classList.contains(name)) return false;
  for (const { name, value } of c.attrs) {
    if (!node.hasAttribute(name)) return false;
    if (value !== undefined && node.getAttribute(name) !== value) return false;
  }
  return true;
}

function matchesSelector(node, compounds) {
  if (!matchesCompound(node, compounds[compounds.length - 1])) return false;
  let i = compounds.length - 2;
  for (let n = node.parentNode; n && i >= 0; n = n.parentNode) {
    if (n.nodeType === 1 && matchesCompound(n, compounds[i])) i--;
  }
  return i < 0;
}

// -- document ----------------------------------------------------------------------------

export class FakeDocument extends FakeEventTarget {
  constructor() {
    super();
    this.hidden = false;
    this.documentElement = new FakeElement('html', this);
    this.body = new FakeElement('body', this);
    this.documentElement.append(this.body);
  }

  createElement(tag) {
    return new FakeElement(tag, this);
  }

  getElementById(id) {
    return this.documentElement.getElementById(id);
  }

  querySelector(selector) {
    return this.documentElement.querySelector(selector);
  }

  querySelectorAll(selector) {
    return this.documentElement.querySelectorAll(selector);
  }

}

export { FakeEvent };

/**
 * Build elements from a compact spec: h('div', {id: 'x', 'data-a': 1}, h('span'), 'text').
 * Attributes are set as attributes (`className` as the class).
 */
export function builder(doc) {
  return function h(tag, attrs = {}, ...children) {
    const node = doc.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name === 'className' ? 'class' : name, value === true ? '' : value);
    }
    node.append(...children);
    return node;
  };
}

/**
 * Make `doc` the global `document` (the chat modules' `el()` creates nodes
 * with it) for the duration of a test; returns the restore function.
 */
export function installDocument(doc) {
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'document');
  Object.defineProperty(globalThis, 'document', { value: doc, configurable: true, writable: true });
  return () => {
    if (previous) Object.defineProperty(globalThis, 'document', previous);
    else delete globalThis.document;
  };
}
