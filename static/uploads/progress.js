/**
 * Follows an upload session's progress object P (docs/protocol.md 4.4): pushed on the
 * `upload:<id>` topic while the page's socket is open, else polled every second from
 * GET /api/uploads/sessions/<id>/progress/ with If-None-Match (304 while unchanged).
 *
 * Polling starts when the socket has not opened within 3 s of watching, or when it
 * drops; it stops as soon as the topic is joined again. Once a finishing P arrives
 * (completed, partial, failed, cancelled) nothing older replaces it.
 *
 * @module uploads/progress
 */

export const SOCKET_GRACE_MS = 3000;
export const POLL_MS = 1000;
export const FINISHED = Object.freeze(['completed', 'partial', 'failed', 'cancelled']);

export function isFinished(progress) {
  return FINISHED.includes(progress?.status);
}

export class ProgressWatcher {
  /**
   * @param {object} options
   * @param {object} options.rt the page's RealtimeClient
   * @param {number} options.sessionId
   * @param {string} options.progressUrl
   * @param {(progress: object, source: string) => void} options.onProgress
   * @param {(mode: 'push'|'polling') => void} options.onMode
   * @param {typeof fetch} [options.fetch]
   * @param {typeof setTimeout} [options.setTimeout]
   * @param {typeof clearTimeout} [options.clearTimeout]
   */
  constructor({ rt, sessionId, progressUrl, onProgress, onMode, fetch: fetchFn, setTimeout: setT, clearTimeout: clearT }) {
    this.rt = rt;
    this.topic = `upload:${sessionId}`;
    this.progressUrl = progressUrl;
    this.onProgress = onProgress;
    this.onMode = onMode;
    this.fetch = fetchFn || ((...args) => globalThis.fetch(...args));
    this.setTimeout = setT || ((...args) => globalThis.setTimeout(...args));
    this.clearTimeout = clearT || ((...args) => globalThis.clearTimeout(...args));
    this.mode = null;
    this.joined = false;
    this.etag = null;
    this.last = null;
    this.stopped = false;
    this._pollTimer = null;
    this._graceTimer = null;
    this._unsubscribe = null;
  }

  start() {
    this._unsubscribe = this.rt.on('state', (state) => {
      if (state !== 'open') {
        this.joined = false;
        this._startPolling();
      }
    });
    this.rt
      .join(this.topic, {}, {
        onJoin: (reply) => {
          this.joined = true;
          this._setMode('push');
          this._stopPolling();
          this.apply(reply, 'join');
        },
        onEvent: (_event, payload) => this.apply(payload, 'push'),
      })
      .catch(() => this._startPolling());
    this._graceTimer = this.setTimeout(() => {
      if (!this.joined) this._startPolling();
    }, SOCKET_GRACE_MS);
  }

  /** Shows P unless a finishing P was shown already (a late poll or event must not undo it). */
  apply(progress, source) {
    if (this.stopped || !progress) return;
    if (isFinished(this.last) && !isFinished(progress)) return;
    this.last = progress;
    this.onProgress(progress, source);
    if (isFinished(progress)) this.stop();
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this._stopPolling();
    this.clearTimeout(this._graceTimer);
    this._unsubscribe?.();
    this.rt.leave(this.topic)?.catch?.(() => {});
  }

  _setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.onMode(mode);
  }

  _startPolling() {
    if (this.stopped || this._pollTimer !== null || this.joined) return;
    this._setMode('polling');
    const tick = async () => {
      await this.poll();
      if (this._pollTimer !== null && !this.stopped) this._pollTimer = this.setTimeout(tick, POLL_MS);
    };
    this._pollTimer = this.setTimeout(tick, 0);
  }

  _stopPolling() {
    if (this._pollTimer !== null) this.clearTimeout(this._pollTimer);
    this._pollTimer = null;
  }

  /** One poll: 200 applies P and keeps its ETag; 304 changes nothing. */
  async poll() {
    const headers = { Accept: 'application/json' };
    if (this.etag) headers['If-None-Match'] = this.etag;
    try {
      const response = await this.fetch(this.progressUrl, { headers, credentials: 'same-origin', cache: 'no-store' });
      if (response.status === 304) return 'unchanged';
      if (!response.ok) return 'error';
      this.etag = response.headers.get('ETag');
      this.apply(await response.json(), 'poll');
      return 'changed';
    } catch {
      return 'error';
    }
  }
}
