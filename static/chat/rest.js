/**
 * The chat pages' REST reads. Every write goes over the WebSocket, so GET is
 * all they need (and no CSRF token).
 *
 * @module chat/rest
 */

/**
 * GET JSON with the session cookie; throws an Error with `.code` (the body's
 * `code`, else `http_<status>`) and `.fields`.
 * @param {string} url
 * @param {{fetch?: typeof fetch}} [options]
 * @returns {Promise<any>}
 */
export async function getJson(url, { fetch: fetchFn = globalThis.fetch } = {}) {
  const response = await fetchFn(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const err = new Error((data && (data.detail || data.message)) || `HTTP ${response.status}`);
    err.code = data?.code || `http_${response.status}`;
    err.fields = {};
    throw err;
  }
  return data;
}
