/**
 * Pure helpers of the shares pages: numbers, progress, the updates list and
 * the room summary as text. No DOM, so node --test checks them.
 *
 * @module shares/format
 */

/**
 * How far a goal is, 0..100 (0 without a target).
 * @param {{current: number, target: number|null}} goal
 * @returns {number}
 */
export function percent(goal) {
  if (!goal || typeof goal.target !== 'number' || goal.target <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((goal.current / goal.target) * 100)));
}

/**
 * "12.5 / 100 km", or "12.5 km" without a target.
 * @param {{current: number, target: number|null, unit: string}} goal
 * @returns {string}
 */
export function amount(goal) {
  const unit = goal.unit ? ` ${goal.unit}` : '';
  return typeof goal.target === 'number' ? `${goal.current} / ${goal.target}${unit}` : `${goal.current}${unit}`;
}

/**
 * The line a `progress.updated` payload adds to the updates list.
 * @param {{type: string, goal?: object, entry?: object, reflection?: object}} payload
 * @param {(id: number) => string|undefined} goalTitle the title of a goal shown (for removals)
 * @returns {string|null} null for nothing to show
 */
export function updateText(payload, goalTitle = () => undefined) {
  switch (payload?.type) {
    case 'progress': {
      const note = payload.entry?.note ? `: ${payload.entry.note}` : '';
      return `updated progress on ${payload.goal.title} (${amount(payload.goal)})${note}`;
    }
    case 'reflection':
      return 'added a reflection';
    case 'goal':
      return `updated a goal: ${payload.goal.title}`;
    case 'goal.removed': {
      const title = goalTitle(payload.goal_id);
      return title ? `stopped sharing ${title}` : null;
    }
    default:
      return null;
  }
}

/**
 * "1 watching", "3 watching".
 * @param {{viewers: number}} room
 * @returns {string}
 */
export function watchingText(room) {
  return `${room?.viewers ?? 0} watching`;
}

/**
 * An error reply as a sentence for people.
 * @param {{code?: string, message?: string, fields?: object}} error
 * @returns {string}
 */
export function errorText(error) {
  const wait = Number(error?.fields?.retry_after);
  switch (error?.code) {
    case 'rate_limited':
      return wait > 0 ? `Too many attempts: try again in ${formatWait(wait)}.` : 'Too many attempts: try again later.';
    case 'forbidden':
      return error.message || 'Not allowed.';
    case 'unauthorized':
      return 'Sign in to comment on this share.';
    case 'not_found':
      return 'This share has ended.';
    case 'invalid': {
      const first = error.fields && Object.values(error.fields)[0];
      return first ? String(first) : error.message || 'Please check what you entered.';
    }
    default:
      return error?.message || 'Something went wrong; try again.';
  }
}

/**
 * "45 s", "10 min".
 * @param {number} seconds
 * @returns {string}
 */
export function formatWait(seconds) {
  return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.ceil(seconds / 60)} min`;
}

/**
 * Applies a goal (G) to a list of goals: replaces the one with its id or
 * appends it; returns a new list.
 * @param {object[]} goals
 * @param {object} goal
 * @returns {object[]}
 */
export function upsert(goals, goal) {
  const index = goals.findIndex((item) => item.id === goal.id);
  if (index === -1) return [...goals, goal];
  const copy = goals.slice();
  copy[index] = goal;
  return copy;
}
