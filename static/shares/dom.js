/**
 * Building DOM nodes without ever parsing HTML: user data only reaches the
 * page as text.
 *
 * @module shares/dom
 */

import { el } from '../realtime/dom.js';

export { el };

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
