// Pure helpers of the chat pages (static/chat/format.js).
// Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { displayName, dmNotification, dmReadMeaning, errorText, normalizeMessage, typingText } from '../../static/chat/format.js';

test('typingText names one, two, then counts the others', () => {
  assert.equal(typingText([]), '');
  assert.equal(typingText(['Ann']), 'Ann is typing…');
  assert.equal(typingText(['Ann', 'Ben']), 'Ann and Ben are typing…');
  assert.equal(typingText(['Ann', 'Ben', 'Cy']), 'Ann and 2 others are typing…');
  assert.equal(typingText(['Ann', 'Ben', 'Cy', 'Di']), 'Ann and 3 others are typing…');
});

test('displayName prefers the display name', () => {
  assert.equal(displayName({ username: 'ann', display_name: 'Ann A.' }), 'Ann A.');
  assert.equal(displayName({ username: 'ann', display_name: '' }), 'ann');
  assert.equal(displayName(null), 'Someone');
});

test('normalizeMessage orders channel messages by seq and DMs by id', () => {
  const channel = normalizeMessage({ id: 9, seq: 3, author: { id: 1 }, body: 'hi', client_id: 'c', deleted: false });
  assert.equal(channel.key, 3);
  assert.equal(channel.author.id, 1);
  assert.equal(channel.clientId, 'c');
  const dm = normalizeMessage({ id: 12, from: { id: 2 }, to: { id: 1 }, body: 'yo' });
  assert.equal(dm.key, 12);
  assert.equal(dm.author.id, 2);
});

test('normalizeMessage marks a DM read by its recipient, never a channel message', () => {
  assert.equal(normalizeMessage({ id: 12, from: { id: 2 }, read_at: '2025-01-01T10:00:00Z' }).read, true);
  assert.equal(normalizeMessage({ id: 12, from: { id: 2 }, read_at: null }).read, false);
  assert.equal(normalizeMessage({ id: 9, seq: 3, author: { id: 1 } }).read, false);
});

test('dmReadMeaning tells "I read theirs" from "they read mine" by the reader', () => {
  const ann = { id: 1, username: 'ann' };
  const ben = { id: 2, username: 'ben' };
  // In Ann's inbox (me = 1): she read Ben's messages up to 7 ...
  assert.deepEqual(dmReadMeaning({ with: ben, up_to: 7, reader: ann }, 1), { friendId: 2, upTo: 7, byMe: true });
  // ... or Ben read hers up to 9 (the reader is the other party).
  assert.deepEqual(dmReadMeaning({ with: ben, up_to: 9, reader: ben }, 1), { friendId: 2, upTo: 9, byMe: false });
  // Without a reader (events stored before it was sent) or with a stranger as reader: unknown.
  assert.equal(dmReadMeaning({ with: ben, up_to: 9 }, 1), null);
  assert.equal(dmReadMeaning({ with: ben, up_to: 9, reader: { id: 3 } }, 1), null);
  assert.equal(dmReadMeaning({ with: ben, up_to: '9', reader: ben }, 1), null);
  assert.equal(dmReadMeaning(null, 1), null);
});

test('normalizeMessage never keeps the text of a deleted message', () => {
  assert.equal(normalizeMessage({ id: 1, seq: 1, body: 'secret', deleted: true }).body, '');
});

test('errorText prefers the server message, then field problems', () => {
  assert.equal(errorText({ code: 'forbidden', message: 'Only friends.' }), 'Only friends.');
  assert.equal(errorText({ code: 'invalid', message: '', fields: { body: ['Too long.'] } }), 'Too long.');
  assert.equal(errorText({ code: 'not_connected', message: 'x' }), 'Not connected; try again.');
  assert.equal(errorText(null), 'Something went wrong.');
});

test('dmNotification names the sender and opens the conversation on click', () => {
  const ben = { id: 2, username: 'ben o', display_name: 'Ben' };
  assert.deepEqual(dmNotification({ from: ben, body: 'Hi' }, '/chat/dm/'), {
    title: 'Message from Ben',
    options: { body: 'Hi', tag: 'dm-2', url: '/chat/dm/ben%20o/' },
  });
  // A deleted message never shows its text; an unknown sender opens nothing.
  assert.deepEqual(dmNotification({ from: null, body: 'secret', deleted: true }, '/chat/dm/'), {
    title: 'Message from Someone',
    options: { body: '', tag: 'dm-undefined' },
  });
});
