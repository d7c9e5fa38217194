/**
 * Building DOM nodes without ever parsing HTML: user data only reaches the
 * page as text. Shared by the apps' page modules.
 *
 * @module realtime/dom
 */

/**
 * An element with attributes and text or child nodes. `className` sets the
 * class, `text` the textContent; null, undefined and false attributes are
 * left out, true ones are present and empty.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const node = globalThis.document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
