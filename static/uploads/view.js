/**
 * The uploads page's view: the overall bar with speed and time left, one bar per file,
 * the push/polling indicator. User data reaches the DOM through textContent only.
 *
 * @module uploads/view
 */

const STATUS_TEXT = Object.freeze({
  pending: 'waiting',
  uploading: 'uploading',
  processing: 'checking',
  completed: 'done',
  partial: 'done, some failed',
  failed: 'failed',
  cancelled: 'cancelled',
});

export function statusText(status) {
  return STATUS_TEXT[status] || status || '';
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${whole % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Speed (bytes/s, smoothed) and time left from successive byte counts. */
export class RateMeter {
  constructor({ now = () => Date.now(), smoothing = 0.3 } = {}) {
    this.now = now;
    this.smoothing = smoothing;
    this.lastBytes = null;
    this.lastAt = null;
    this.rate = null;
  }

  update(bytes) {
    const at = this.now();
    if (this.lastBytes !== null && at > this.lastAt && bytes >= this.lastBytes) {
      const sample = ((bytes - this.lastBytes) * 1000) / (at - this.lastAt);
      this.rate = this.rate === null ? sample : this.rate + this.smoothing * (sample - this.rate);
    }
    if (this.lastBytes === null || bytes !== this.lastBytes) {
      this.lastBytes = bytes;
      this.lastAt = at;
    }
    return this.rate;
  }

  secondsLeft(remaining) {
    return this.rate && this.rate > 0 ? remaining / this.rate : null;
  }
}

export class UploadView {
  constructor(root, { document: doc = root.ownerDocument, now } = {}) {
    this.root = root;
    this.doc = doc;
    this.meter = new RateMeter({ now });
    this.el = (id) => doc.getElementById(id);
  }

  showError(text) {
    const line = this.el('upload-error');
    line.textContent = text || '';
    line.hidden = !text;
  }

  setMode(mode) {
    const badge = this.el('upload-transport');
    badge.dataset.mode = mode;
    badge.textContent = mode === 'push' ? 'live' : mode === 'polling' ? 'polling' : '';
  }

  /** Renders P. */
  render(progress) {
    this.el('upload-session').hidden = false;
    this.root.dataset.status = progress.status;
    this.root.dataset.sessionId = String(progress.session_id);
    const bar = this.el('upload-total-bar');
    bar.value = progress.total_progress;
    this.el('upload-total-text').textContent = `${progress.total_progress} %`;
    this.el('upload-message').textContent = progress.message || '';
    const rate = this.meter.update(progress.bytes_received);
    const active = progress.status === 'uploading';
    this.el('upload-speed').textContent = active && rate ? `${formatBytes(rate)}/s` : '';
    const left = this.meter.secondsLeft(progress.bytes_total - progress.bytes_received);
    this.el('upload-eta').textContent = active && left !== null ? `· ${formatDuration(left)} left` : '';
    const list = this.el('upload-files');
    for (const file of progress.files) this.renderFile(list, file);
  }

  renderFile(list, file) {
    let item = list.querySelector(`[data-file-id="${file.id}"]`);
    if (!item) {
      item = this.doc.createElement('li');
      item.className = 'upload-file';
      item.dataset.fileId = String(file.id);
      const name = this.doc.createElement('span');
      name.className = 'upload-file-name';
      const status = this.doc.createElement('span');
      status.className = 'upload-file-status';
      const bar = this.doc.createElement('progress');
      bar.max = 100;
      const error = this.doc.createElement('span');
      error.className = 'upload-file-error';
      item.append(name, status, bar, error);
      list.append(item);
    }
    item.dataset.status = file.status;
    item.querySelector('.upload-file-name').textContent = file.name;
    item.querySelector('.upload-file-status').textContent = `${file.progress} % · ${statusText(file.status)}`;
    item.querySelector('progress').value = file.progress;
    item.querySelector('.upload-file-error').textContent = file.error || '';
  }

  /** A file the page refused before uploading (type or size), shown next to the others. */
  renderRefused(name, reason) {
    const item = this.doc.createElement('li');
    item.className = 'upload-file';
    item.dataset.status = 'failed';
    item.dataset.refused = 'true';
    const label = this.doc.createElement('span');
    label.className = 'upload-file-name';
    label.textContent = name;
    const status = this.doc.createElement('span');
    status.className = 'upload-file-status';
    status.textContent = 'not uploaded';
    const error = this.doc.createElement('span');
    error.className = 'upload-file-error';
    error.textContent = reason;
    item.append(label, status, error);
    this.el('upload-files').append(item);
    this.el('upload-session').hidden = false;
  }
}
