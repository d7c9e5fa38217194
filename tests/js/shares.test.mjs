// The shares pages' pure helpers (static/shares/format.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { amount, errorText, formatWait, percent, updateText, upsert, watchingText } from '../../static/shares/format.js';

const goal = { id: 1, title: 'Run', current: 25, target: 100, unit: 'km', status: 'active' };

test('percent is clamped to 0..100 and 0 without a target', () => {
  assert.equal(percent(goal), 25);
  assert.equal(percent({ ...goal, current: 150 }), 100);
  assert.equal(percent({ ...goal, current: -3 }), 0);
  assert.equal(percent({ ...goal, target: null }), 0);
});

test('amount shows the target and unit when there are some', () => {
  assert.equal(amount(goal), '25 / 100 km');
  assert.equal(amount({ ...goal, target: null, unit: '' }), '25');
});

test('updateText says what changed, and nothing for unknown types', () => {
  assert.equal(
    updateText({ type: 'progress', goal, entry: { note: 'hills' } }),
    'updated progress on Run (25 / 100 km): hills',
  );
  assert.equal(updateText({ type: 'reflection', reflection: { text: 'x' } }), 'added a reflection');
  assert.equal(updateText({ type: 'goal', goal }), 'updated a goal: Run');
  assert.equal(updateText({ type: 'goal.removed', goal_id: 1 }, () => 'Run'), 'stopped sharing Run');
  assert.equal(updateText({ type: 'goal.removed', goal_id: 9 }), null);
  assert.equal(updateText({ type: 'later.kind' }), null);
});

test('errorText turns error replies into sentences', () => {
  assert.equal(errorText({ code: 'rate_limited', fields: { retry_after: 12.2 } }), 'Too many attempts: try again in 13 s.');
  assert.equal(errorText({ code: 'rate_limited', fields: { retry_after: 600 } }), 'Too many attempts: try again in 10 min.');
  assert.equal(errorText({ code: 'invalid', fields: { message: 'Must be 1 to 200 characters.' } }), 'Must be 1 to 200 characters.');
  assert.equal(errorText({ code: 'unauthorized' }), 'Sign in to comment on this share.');
  assert.equal(formatWait(89), '89 s');
});

test('watchingText and upsert', () => {
  assert.equal(watchingText({ viewers: 3 }), '3 watching');
  assert.deepEqual(upsert([goal], { ...goal, current: 30 }), [{ ...goal, current: 30 }]);
  assert.deepEqual(upsert([goal], { ...goal, id: 2 }).map((g) => g.id), [1, 2]);
});
