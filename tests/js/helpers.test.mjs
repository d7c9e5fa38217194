// Pure helpers of static/realtime/client.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { backoffDelay, SeqTracker, decodeJwtExp, refreshDelay } from '../../static/realtime/client.js';
import { jwt } from './fakes.mjs';

test('backoffDelay: full jitter is random() times the exponential ceiling', () => {
  const b = { base: 1000, cap: 30000 };
  const half = () => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, b, half)),
    [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000],
  );
});

test('backoffDelay: bounds are 0 .. min(cap, base * 2**attempt)', () => {
  const b = { base: 1000, cap: 30000 };
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(30000, 1000 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, b, () => 0), 0);
    const high = backoffDelay(attempt, b, () => 0.999999);
    assert.ok(high < ceiling && high > ceiling * 0.999, `attempt ${attempt}: ${high} vs ${ceiling}`);
  }
  // Huge attempt counts must stay finite and capped (no Infinity/NaN).
  assert.equal(backoffDelay(5000, b, () => 1), 30000);
  assert.equal(backoffDelay(5000, { base: 0, cap: 30000 }, () => 1), 0);
});

test('backoffDelay: defaults are base 1000, cap 30000', () => {
  assert.equal(backoffDelay(0, undefined, () => 1), 1000);
  assert.equal(backoffDelay(20, undefined, () => 1), 30000);
});

test('SeqTracker: anchors, accepts next, flags duplicates and gaps', () => {
  const t = new SeqTracker();
  assert.equal(t.last, null);
  assert.equal(t.classify(41), 'new'); // first seq anchors whatever it is
  t.accept(41);
  assert.equal(t.classify(42), 'new');
  assert.equal(t.classify(41), 'duplicate');
  assert.equal(t.classify(3), 'duplicate');
  assert.equal(t.classify(44), 'gap');
  t.accept(42);
  t.accept(40); // never moves backwards
  assert.equal(t.last, 42);
  t.reset();
  assert.equal(t.last, null);
  assert.equal(t.classify(1000), 'new');
});

test('decodeJwtExp: reads exp from the base64url payload', () => {
  assert.equal(decodeJwtExp(jwt({ exp: 1700000100, user_id: 7 })), 1700000100);
  // base64url specific characters and non-ASCII claims decode correctly.
  assert.equal(decodeJwtExp(jwt({ exp: 1234567890, name: 'Zoë ??>>>~~~ 日本' })), 1234567890);
  assert.equal(decodeJwtExp(jwt({ user_id: 7 })), null);
  assert.equal(decodeJwtExp('not-a-jwt'), null);
  assert.equal(decodeJwtExp('a.%%%.c'), null);
  assert.equal(decodeJwtExp(null), null);
});

test('refreshDelay: margin is 30 s, or 20% of the remaining lifetime if that is shorter', () => {
  const now = 1_700_000_000_000;
  assert.equal(refreshDelay(now / 1000 + 300, now), 270_000); // SimpleJWT's 5 min default
  assert.equal(refreshDelay(now / 1000 + 150, now), 120_000); // both margins equal
  assert.equal(refreshDelay(now / 1000 + 100, now), 80_000);
  assert.equal(refreshDelay(now / 1000 + 20, now), 16_000);
  assert.equal(refreshDelay(now / 1000, now), null);
  assert.equal(refreshDelay(now / 1000 - 5, now), null);
});
