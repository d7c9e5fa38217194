/**
 * Building DOM nodes without ever parsing HTML: user data only reaches the
 * page as text.
 *
 * @module shares/dom
 */

/**
 * An element with attributes and text or child nodes (`className`, `text`;
 * null/undefined/false attributes are left out).
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

/**
 * A goal with its progress bar.
 * @param {{id: number, title: string, current: number, target: number|null, unit: string, status: string}} goal
 * @param {(goal: object) => string} amountText
 * @param {number} pct
 * @returns {HTMLElement}
 */
export function goalItem(goal, amountText, pct) {
  const bar = el('div', { className: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct });
  bar.append(el('span', { className: 'bar-fill', style: `width: ${pct}%` }));
  return el(
    'li',
    { className: 'goal', 'data-goal-id': goal.id, 'data-status': goal.status, 'data-percent': pct },
    el('span', { className: 'goal-title', text: goal.title }),
    el('span', { className: 'goal-amount muted', text: `${amountText(goal)}${goal.status === 'done' ? ' · done' : ''}` }),
    bar,
  );
}
