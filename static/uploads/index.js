/**
 * The uploads page's module (/uploads/), mounted by the page bootstrap on the
 * `.uploads` element (templates/uploads/index.html); its config is the view's
 * `uploads_config`.
 *
 * Files go up with tus-js-client (static/uploads/vendor/, loaded by the template as
 * `window.tus`) in chunks of `config.chunk_bytes`, to the upload URLs of a session
 * opened over REST; progress comes from the server (ProgressWatcher: push, or polling
 * when the socket is not open), so every tab and device shows the same bars. After a
 * reload, picking the same files again resumes the unfinished session from the
 * offsets the server stored.
 *
 * @module uploads/index
 */
import { ProgressWatcher, isFinished } from './progress.js';
import { UploadView } from './view.js';

export const PARALLEL = 2;
export const RETRY_DELAYS = Object.freeze([0, 1000, 3000, 5000, 10000]);

/** Browsers call some JPEGs image/jpg; the server does the same mapping. */
export function declaredType(file) {
  const type = (file.type || '').toLowerCase();
  return type === 'image/jpg' ? 'image/jpeg' : type;
}

/** The picked files the server would accept, and the others with the reason. */
export function splitAllowed(files, config) {
  const accepted = [];
  const refused = [];
  for (const file of files) {
    const type = declaredType(file);
    if (!config.allowed_types.includes(type)) {
      refused.push({ file, reason: `The type ${type || '(unknown)'} is not allowed.` });
    } else if (file.size > config.max_file_bytes) {
      refused.push({ file, reason: `Larger than the limit of ${config.max_file_bytes} bytes.` });
    } else {
      accepted.push(file);
    }
  }
  return { accepted, refused };
}

/**
 * Pairs an unfinished session's files with picked files by name and size; null when
 * a file the session still waits for was not picked again.
 * @returns {Array<[object, File]>|null}
 */
export function matchResume(session, files) {
  const waiting = session.files.filter((record) => ['pending', 'uploading'].includes(record.status));
  if (!waiting.length) return null;
  const pairs = [];
  for (const record of waiting) {
    const file = files.find((candidate) => candidate.name === record.name && candidate.size === record.size);
    if (!file) return null;
    pairs.push([record, file]);
  }
  return pairs;
}

/** A REST error as one line: its field problems (`fields`, or DRF's `{field: [...]}`), else `detail`. */
export function errorText(data, status) {
  if (!data || typeof data !== 'object') return `The server answered ${status}.`;
  const source = data.fields && typeof data.fields === 'object' ? data.fields : data;
  const parts = Object.entries(source)
    .filter(([key]) => !['code', 'detail', 'fields'].includes(key))
    .map(([, value]) => (Array.isArray(value) ? value.join(' ') : String(value)));
  return parts.join(' ') || (data.detail ? String(data.detail) : `The server answered ${status}.`);
}

/** Runs `tasks` (functions returning promises) at most `limit` at a time. */
export async function runLimited(tasks, limit) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next];
      next += 1;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

export function mount(root, config, rt, page, deps = {}) {
  const doc = root.ownerDocument;
  const tus = deps.tus || globalThis.tus;
  const fetchFn = deps.fetch || ((...args) => globalThis.fetch(...args));
  const view = new UploadView(root, { document: doc });
  const el = (id) => doc.getElementById(id);
  const input = el('upload-input');
  const drop = el('upload-drop');
  const startButton = el('upload-start');
  const cancelButton = el('upload-cancel');
  const csrf = { 'X-CSRFToken': config.csrf_token };
  let picked = [];
  let session = config.resume;
  let watcher = null;
  let running = [];

  const progressUrl = (id) => `${config.urls.session_base}${id}/progress/`;

  function watch(current) {
    watcher?.stop();
    view.render(current.progress);
    cancelButton.hidden = isFinished(current.progress);
    watcher = new ProgressWatcher({
      rt,
      sessionId: current.id,
      progressUrl: progressUrl(current.id),
      fetch: fetchFn,
      onMode: (mode) => view.setMode(mode),
      onProgress: (progress) => {
        view.render(progress);
        if (isFinished(progress)) {
          cancelButton.hidden = true;
          root.dataset.finished = 'true';
        }
      },
    });
    watcher.start();
  }

  function pick(files) {
    picked = files;
    startButton.disabled = picked.length === 0;
    view.showError('');
  }

  function uploadOne(record, file) {
    return new Promise((resolve) => {
      const upload = new tus.Upload(file, {
        uploadUrl: record.upload_url,
        chunkSize: config.chunk_bytes,
        retryDelays: [...RETRY_DELAYS],
        headers: csrf,
        storeFingerprintForResuming: false,
        onSuccess: () => resolve(true),
        onError: (error) => {
          const status = error?.originalResponse?.getStatus?.();
          if (status !== 410) view.showError(`${file.name}: ${error?.message || error}`);
          resolve(false);
        },
      });
      running.push(upload);
      upload.start();
    });
  }

  async function openSession(files) {
    const body = {
      category: el('upload-category').value,
      files: files.map((file) => ({ name: file.name, size: file.size, type: declaredType(file) })),
    };
    const response = await fetchFn(config.urls.sessions, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...csrf },
      credentials: 'same-origin',
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(errorText(data, response.status));
    return data;
  }

  async function start() {
    const { accepted, refused } = splitAllowed(picked, config);
    el('upload-files').replaceChildren();
    for (const { file, reason } of refused) view.renderRefused(file.name, reason);
    if (!accepted.length) return;
    startButton.disabled = true;
    root.dataset.finished = 'false';
    let pairs = session && !isFinished(session.progress) ? matchResume(session, accepted) : null;
    if (!pairs) {
      try {
        session = await openSession(accepted);
      } catch (error) {
        view.showError(error.message);
        startButton.disabled = false;
        return;
      }
      pairs = session.files.map((record, index) => [record, accepted[index]]);
    }
    el('upload-resume').hidden = true;
    watch(session);
    running = [];
    await runLimited(
      pairs.map(([record, file]) => () => uploadOne(record, file)),
      PARALLEL,
    );
  }

  async function cancel() {
    if (!session) return;
    for (const upload of running) upload.abort();
    const response = await fetchFn(`${config.urls.session_base}${session.id}/cancel/`, {
      method: 'POST',
      headers: { Accept: 'application/json', ...csrf },
      credentials: 'same-origin',
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) view.showError(errorText(data, response.status));
    else watcher?.apply(data.progress, 'cancel');
  }

  input.addEventListener('change', () => pick([...input.files]));
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.dataset.over = 'true';
  });
  drop.addEventListener('dragleave', () => {
    drop.dataset.over = 'false';
  });
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.dataset.over = 'false';
    pick([...(event.dataTransfer?.files || [])]);
  });
  el('upload-form').addEventListener('submit', (event) => {
    event.preventDefault();
    start();
  });
  cancelButton.addEventListener('click', () => cancel());

  if (session) {
    const note = el('upload-resume');
    const waiting = session.files.filter((record) => ['pending', 'uploading'].includes(record.status));
    note.textContent = `An upload was not finished (${waiting.map((record) => record.name).join(', ')}): pick the same files again to resume.`;
    note.hidden = false;
    watch(session);
  }
  root.dataset.ready = 'true';
  return { view, get session() { return session; }, get watcher() { return watcher; } };
}
