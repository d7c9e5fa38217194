// The uploads page modules (static/uploads/): push with the polling fallback, and the
// pure helpers (which files go up, resuming, speed and time left).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { FakeClock, flush } from './fakes.mjs';
import { ProgressWatcher, POLL_MS, SOCKET_GRACE_MS } from '../../static/uploads/progress.js';
import { declaredType, errorText, matchResume, runLimited, splitAllowed } from '../../static/uploads/index.js';
import { RateMeter, formatBytes, formatDuration } from '../../static/uploads/view.js';

const P = (extra = {}) => ({ session_id: 7, status: 'uploading', bytes_received: 0, bytes_total: 100, files: [], ...extra });

function fakeRt() {
  const listeners = new Set();
  const rt = {
    joins: [],
    left: [],
    on(name, fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    setState(state) {
      for (const fn of listeners) fn(state);
    },
    join(topic, params, handlers) {
      const entry = { topic, handlers };
      rt.joins.push(entry);
      return new Promise((resolve) => {
        entry.resolve = resolve;
      });
    },
    leave(topic) {
      rt.left.push(topic);
      return Promise.resolve();
    },
  };
  return rt;
}

function fakeFetch(responses) {
  const calls = [];
  const fetch = async (url, options) => {
    calls.push({ url, headers: { ...options.headers } });
    const next = responses.shift() || { status: 304 };
    return {
      status: next.status,
      ok: next.status >= 200 && next.status < 300,
      headers: { get: (name) => (name === 'ETag' ? next.etag : null) },
      json: async () => next.body,
    };
  };
  return { fetch, calls };
}

function watcher(rt, fetch, clock) {
  const shown = [];
  const modes = [];
  const w = new ProgressWatcher({
    rt,
    sessionId: 7,
    progressUrl: '/api/uploads/sessions/7/progress/',
    onProgress: (progress, source) => shown.push([progress, source]),
    onMode: (mode) => modes.push(mode),
    fetch,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  });
  return { w, shown, modes };
}

describe('ProgressWatcher', () => {
  test('pushes when the topic is joined, and polls nothing', async () => {
    const clock = new FakeClock();
    const rt = fakeRt();
    const { fetch, calls } = fakeFetch([]);
    const { w, shown, modes } = watcher(rt, fetch, clock);
    w.start();
    assert.equal(rt.joins[0].topic, 'upload:7');
    rt.joins[0].handlers.onJoin(P({ bytes_received: 10 }));
    rt.joins[0].handlers.onEvent('progress', P({ bytes_received: 50 }));
    clock.tick(SOCKET_GRACE_MS + 5000);
    await flush();
    assert.deepEqual(modes, ['push']);
    assert.deepEqual(shown.map(([p, source]) => [p.bytes_received, source]), [[10, 'join'], [50, 'push']]);
    assert.equal(calls.length, 0);
  });

  test('polls every second with If-None-Match when the socket has not opened within 3 s', async () => {
    const clock = new FakeClock();
    const rt = fakeRt();
    const { fetch, calls } = fakeFetch([
      { status: 200, etag: '"a"', body: P({ bytes_received: 30 }) },
      { status: 304 },
      { status: 200, etag: '"b"', body: P({ status: 'completed', bytes_received: 100 }) },
    ]);
    const { w, shown, modes } = watcher(rt, fetch, clock);
    w.start();
    clock.tick(SOCKET_GRACE_MS - 1);
    await flush();
    assert.equal(calls.length, 0);
    clock.tick(1);
    await flush();
    assert.deepEqual(modes, ['polling']);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].headers['If-None-Match'], undefined);
    clock.tick(POLL_MS);
    await flush();
    assert.equal(calls[1].headers['If-None-Match'], '"a"');
    clock.tick(POLL_MS);
    await flush();
    assert.deepEqual(shown.map(([p]) => p.status), ['uploading', 'completed']);
    assert.deepEqual(rt.left, ['upload:7']); // finished: it stops
    clock.tick(POLL_MS * 5);
    await flush();
    assert.equal(calls.length, 3);
  });

  test('a dropped socket switches to polling, and a re-join back to push', async () => {
    const clock = new FakeClock();
    const rt = fakeRt();
    const { fetch, calls } = fakeFetch([{ status: 200, etag: '"x"', body: P({ bytes_received: 40 }) }]);
    const { w, modes } = watcher(rt, fetch, clock);
    w.start();
    rt.joins[0].handlers.onJoin(P());
    rt.setState('reconnecting');
    clock.tick(0);
    await flush();
    assert.deepEqual(modes, ['push', 'polling']);
    assert.equal(calls.length, 1);
    rt.setState('open');
    rt.joins[0].handlers.onJoin(P({ bytes_received: 60 }));
    clock.tick(POLL_MS * 3);
    await flush();
    assert.deepEqual(modes, ['push', 'polling', 'push']);
    assert.equal(calls.length, 1);
  });

  test('a late older P never replaces a finishing one', () => {
    const clock = new FakeClock();
    const { w, shown } = watcher(fakeRt(), fakeFetch([]).fetch, clock);
    w.apply(P({ status: 'cancelled' }), 'cancel');
    w.apply(P({ status: 'uploading' }), 'poll');
    assert.deepEqual(shown.map(([p]) => p.status), ['cancelled']);
  });
});

describe('page helpers', () => {
  const config = { allowed_types: ['image/jpeg', 'application/pdf'], max_file_bytes: 1000 };

  test('only allowed types within the size limit go up; the others say why', () => {
    const files = [
      { name: 'a.jpg', size: 10, type: 'image/jpg' },
      { name: 'b.txt', size: 10, type: 'text/plain' },
      { name: 'c.pdf', size: 5000, type: 'application/pdf' },
    ];
    const { accepted, refused } = splitAllowed(files, config);
    assert.deepEqual(accepted.map((f) => f.name), ['a.jpg']);
    assert.equal(declaredType(files[0]), 'image/jpeg');
    assert.deepEqual(refused.map((r) => r.reason), [
      'The type text/plain is not allowed.',
      'Larger than the limit of 1000 bytes.',
    ]);
  });

  test('resuming needs every unfinished file picked again', () => {
    const session = {
      files: [
        { name: 'a.jpg', size: 10, status: 'completed' },
        { name: 'b.jpg', size: 20, status: 'uploading' },
      ],
    };
    const b = { name: 'b.jpg', size: 20 };
    assert.deepEqual(matchResume(session, [b]), [[session.files[1], b]]);
    assert.equal(matchResume(session, [{ name: 'b.jpg', size: 21 }]), null);
  });

  test('error text comes from the REST error shape', () => {
    assert.equal(errorText({ files: ['x.exe: not allowed'], code: 'invalid' }, 400), 'x.exe: not allowed');
    assert.equal(
      errorText({ code: 'invalid', detail: 'Some fields are invalid.', fields: { files: 'x.exe: not allowed' } }, 400),
      'x.exe: not allowed',
    );
    assert.equal(errorText({ detail: 'No.' }, 404), 'No.');
    assert.equal(errorText(null, 502), 'The server answered 502.');
  });

  test('runLimited runs at most the limit at once', async () => {
    let active = 0;
    let most = 0;
    const task = () => async () => {
      active += 1;
      most = Math.max(most, active);
      await flush();
      active -= 1;
    };
    await runLimited([task(), task(), task(), task(), task()], 2);
    assert.equal(most, 2);
  });

  test('speed and time left', () => {
    let now = 0;
    const meter = new RateMeter({ now: () => now, smoothing: 1 });
    meter.update(0);
    now = 1000;
    assert.equal(meter.update(2 * 1024 * 1024), 2 * 1024 * 1024);
    assert.equal(meter.secondsLeft(4 * 1024 * 1024), 2);
    assert.equal(formatBytes(2 * 1024 * 1024), '2.0 MB');
    assert.equal(formatDuration(75), '1 min 15 s');
  });
});
