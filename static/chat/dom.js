/**
 * Building DOM nodes for the chat pages without ever parsing HTML: user data
 * only reaches the page as text.
 *
 * @module chat/dom
 */

import { el } from '../realtime/dom.js';

export { el };
