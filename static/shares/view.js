/**
 * The viewer page (/s/<token>/): joins `share:<token>` (asking for the
 * password first where needed) and keeps goals, updates, reflections, who is
 * watching and the comments live.
 *
 * @module shares/view
 */
import { CLOSE } from '../realtime/protocol.js';
import { el, goalItem } from './dom.js';
import { amount, errorText, percent, updateText, upsert, watchingText } from './format.js';

const UPDATES_SHOWN = 50;

/**
 * @param {HTMLElement} root the `.share-view` element
 * @param {{topic: string, needs_password: boolean, signed_in: boolean}} config
 * @param {any} rt the page's RealtimeClient
 */
export function mountView(root, config, rt) {
  const $ = (id) => root.querySelector(`#${id}`);
  const state = { goals: [], role: 'viewer', ended: false, comments: new Map() };
  const passwordForm = $('share-password');
  const passwordInput = $('share-password-input');
  const passwordError = $('share-password-error');
  const main = $('share-main');
  const commentForm = $('comment-form');
  const message = $('comment-message');
  const counter = $('comment-count');
  const commentError = $('comment-error');

  const show = (node, visible) => {
    node.hidden = !visible;
  };

  function renderGoals() {
    $('goal-list').replaceChildren(...state.goals.map((goal) => goalItem(goal, amount, percent(goal))));
  }

  function addUpdate(text, createdAt) {
    if (!text) return;
    const list = $('update-list');
    const time = createdAt ? new Date(createdAt).toLocaleTimeString() : '';
    list.prepend(el('li', { className: 'update' }, el('span', { text }), el('time', { className: 'muted', text: ` ${time}` })));
    while (list.children.length > UPDATES_SHOWN) list.lastElementChild.remove();
  }

  function renderReflections(reflections) {
    show($('reflections-block'), Array.isArray(reflections));
    $('reflection-list').replaceChildren(
      ...(reflections ?? []).map((r) => el('li', { 'data-reflection-id': r.id, text: r.text })).reverse(),
    );
  }

  function addReflection(reflection) {
    if ($('reflections-block').hidden) return;
    $('reflection-list').prepend(el('li', { 'data-reflection-id': reflection.id, text: reflection.text }));
  }

  function renderShare(share) {
    $('share-title').textContent = share.title;
    $('share-owner').textContent = share.owner.display_name || share.owner.username;
    state.goals = share.goals;
    renderGoals();
    renderReflections(share.reflections);
    const canComment = share.allow_comments && (config.signed_in || share.allow_anonymous_comments);
    show(commentForm, canComment || state.role === 'owner');
    show($('comments-off'), !(canComment || state.role === 'owner'));
    show($('comment-name'), !config.signed_in);
    show($('comment-name-label'), !config.signed_in);
  }

  function renderRoom(room) {
    const owner = $('owner-state');
    owner.dataset.online = String(!!room.owner_online);
    owner.textContent = room.owner_online ? 'owner online' : 'owner offline';
    $('watching').textContent = watchingText(room);
    $('online-list').replaceChildren(
      ...room.online.map((person) =>
        el('li', { 'data-role': person.role }, el('span', { text: person.name }), person.role === 'owner' ? el('span', { className: 'muted', text: ' (owner)' }) : null),
      ),
    );
  }

  function commentItem(comment) {
    return el(
      'li',
      { className: 'comment', 'data-comment-id': comment.id, 'data-owner': comment.is_owner ? 'true' : null },
      el('strong', { text: comment.name }),
      el('span', { text: ` ${comment.message}` }),
    );
  }

  function renderComments(comments) {
    state.comments = new Map();
    const items = comments.filter((c) => !c.hidden).map((c) => {
      const node = commentItem(c);
      state.comments.set(c.id, node);
      return node;
    });
    $('comment-list').replaceChildren(...items);
  }

  function addComment(comment) {
    if (comment.hidden || state.comments.has(comment.id)) return;
    const node = commentItem(comment);
    state.comments.set(comment.id, node);
    $('comment-list').append(node);
  }

  function removeComment(id) {
    state.comments.get(id)?.remove();
    state.comments.delete(id);
  }

  function end(reason) {
    state.ended = true;
    root.dataset.state = 'ended';
    $('share-ended-reason').textContent = reason === 'expired' ? 'It expired.' : 'Its owner ended it.';
    show(main, false);
    show(passwordForm, false);
    show($('share-ended'), true);
    rt.leave(config.topic).catch(() => {});
  }

  function onProgress(payload) {
    const title = (id) => state.goals.find((goal) => goal.id === id)?.title;
    addUpdate(updateText(payload, title), payload.entry?.created_at ?? payload.reflection?.created_at);
    if (payload.goal) state.goals = upsert(state.goals, payload.goal);
    if (payload.type === 'goal.removed') state.goals = state.goals.filter((goal) => goal.id !== payload.goal_id);
    if (payload.type === 'reflection') addReflection(payload.reflection);
    if (payload.type === 'reflection.removed') root.querySelector(`[data-reflection-id="${payload.reflection_id}"]`)?.remove();
    renderGoals();
  }

  const handlers = {
    'progress.updated': onProgress,
    'comment.created': (payload) => addComment(payload.comment),
    'comment.restored': (payload) => addComment(payload.comment),
    'comment.hidden': (payload) => removeComment(payload.id),
    'room.updated': renderRoom,
    'share.updated': (payload) => renderShare(payload.share),
    'share.ended': (payload) => end(payload.reason),
    'share.revoked': () => {
      // The owner changed the password: everyone was removed; join again with the new one.
      rt.leave(config.topic).catch(() => {});
      show(main, false);
      passwordError.textContent = 'The password changed: enter the new one.';
      show(passwordError, true);
      show(passwordForm, true);
    },
  };

  function onJoin(reply) {
    state.role = reply.role;
    root.dataset.state = 'live';
    root.dataset.role = reply.role;
    show(passwordForm, false);
    show(main, true);
    renderShare(reply.share);
    renderComments(reply.comments);
    renderRoom(reply.room);
    if (reply.reset) $('update-list').replaceChildren();
  }

  async function open(password) {
    const params = password ? { password } : {};
    try {
      await rt.join(config.topic, params, { onJoin, onEvent: (event, payload) => handlers[event]?.(payload) });
    } catch (error) {
      if (error.code === 'not_found') {
        end('ended');
        return;
      }
      if (!config.needs_password && !password) {
        // No password to ask for (e.g. kicked in the last 10 minutes): say why, offer nothing.
        root.dataset.state = 'refused';
        $('share-removed').textContent = errorText(error);
        show($('share-removed'), true);
        return;
      }
      passwordError.textContent = error.code === 'forbidden' && password ? 'Wrong password.' : errorText(error);
      show(passwordError, true);
      show(passwordForm, true);
      root.dataset.state = 'locked';
    }
  }

  rt.on('close', ({ code }) => {
    if (code === CLOSE.REMOVED && !state.ended) {
      root.dataset.state = 'removed';
      show(main, false);
      show($('share-removed'), true);
    }
  });

  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    show(passwordError, false);
    open(passwordInput.value);
  });

  message.addEventListener('input', () => {
    counter.textContent = String(message.value.length);
  });

  commentForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    show(commentError, false);
    const payload = { message: message.value };
    const name = $('comment-name').value.trim();
    if (!config.signed_in && name) payload.name = name;
    try {
      const reply = await rt.send(config.topic, 'comment.create', payload);
      addComment(reply.comment);
      message.value = '';
      counter.textContent = '0';
    } catch (error) {
      commentError.textContent = errorText(error);
      show(commentError, true);
    }
  });

  if (config.needs_password) {
    root.dataset.state = 'locked';
    show(passwordForm, true);
    passwordInput.focus();
  } else {
    open(null);
  }
}
