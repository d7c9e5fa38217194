/**
 * The shares pages' module, mounted by the page bootstrap (static/realtime/page.js)
 * on the element its template marks with `data-module`: the owner's dashboard
 * (/shares/) or the viewer page (/s/<token>/). User data only ever reaches the
 * DOM through textContent.
 *
 * @module shares/index
 */
import { mountDashboard } from './dashboard.js';
import { mountView } from './view.js';

/**
 * @param {HTMLElement} root `.share-dashboard` or `.share-view`
 * @param {object} config the view's `shares_config` (`#shares-config`)
 * @param {any} rt the page's RealtimeClient
 */
export function mount(root, config, rt) {
  if (root.classList.contains('share-dashboard')) mountDashboard(root, config, rt);
  else mountView(root, config, rt);
}
