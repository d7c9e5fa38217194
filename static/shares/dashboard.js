/**
 * The owner's dashboard (/shares/): goals with progress bars, recording
 * progress, reflections, creating and ending shares; for each live share the
 * viewer count, who is watching and the comments, with hide and kick.
 *
 * Writes go over REST (the session cookie and the CSRF token); each live share's
 * topic is joined as its owner for the room summary and the comments, and
 * hiding and kicking go over it.
 *
 * @module shares/dashboard
 */
import { el, goalItem } from './dom.js';
import { amount, errorText, percent, upsert, watchingText } from './format.js';

/**
 * A JSON request with the session cookie and the CSRF token; throws an Error
 * with `.code` and `.fields` (the first problem of each field).
 */
async function request(method, url, csrf, body) {
  const response = await globalThis.fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    // The common REST error shape: {code, detail, fields?: {name: problem}}.
    const fields = {};
    for (const [name, problems] of Object.entries(data?.fields ?? {})) {
      fields[name] = Array.isArray(problems) ? problems[0] : problems;
    }
    const err = new Error(data?.detail || Object.values(fields)[0] || `HTTP ${response.status}`);
    err.code = data?.code || (response.status === 400 ? 'invalid' : `http_${response.status}`);
    err.fields = fields;
    throw err;
  }
  return data;
}

/**
 * @param {HTMLElement} root the `.share-dashboard` element
 * @param {{csrf: string, goals: object[], reflections: object[], shares: object[], urls: object}} config
 * @param {any} rt the page's RealtimeClient
 */
export function mountDashboard(root, config, rt) {
  const $ = (id) => root.querySelector(`#${id}`);
  const call = (method, url, body) => request(method, url, config.csrf, body);
  let goals = config.goals.slice();
  const errorLine = $('dashboard-error');

  function fail(error) {
    errorLine.textContent = errorText(error);
    errorLine.hidden = false;
  }

  function progressForm(goal) {
    const input = el('input', { type: 'number', step: 'any', name: 'delta', 'aria-label': `Add to ${goal.title}`, required: true });
    const note = el('input', { name: 'note', maxlength: 500, placeholder: 'note', 'aria-label': 'Note' });
    const form = el('form', { className: 'progress-form' }, input, note, el('button', { type: 'submit', text: 'Record' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      errorLine.hidden = true;
      try {
        await call('POST', `${config.urls.goals}${goal.id}/progress/`, { delta: Number(input.value), note: note.value });
        goals = upsert(goals, await call('GET', `${config.urls.goals}${goal.id}/`));
        renderGoals();
      } catch (error) {
        fail(error);
      }
    });
    return form;
  }

  function renderGoals() {
    $('goal-list').replaceChildren(
      ...goals.map((goal) => {
        const item = goalItem(goal, amount, percent(goal));
        item.append(progressForm(goal));
        return item;
      }),
    );
    $('share-goal-choices').replaceChildren(
      ...goals.map((goal) => el('label', {}, el('input', { type: 'checkbox', name: 'goal', value: goal.id }), ` ${goal.title}`)),
    );
  }

  function renderReflection(reflection) {
    return el('li', { text: reflection.text });
  }

  // -- shares -----------------------------------------------------------------

  function shareItem(share) {
    const link = el('input', { className: 'share-link', value: share.url, readonly: true, 'aria-label': 'Link' });
    const copy = el('button', { type: 'button', text: 'Copy link' });
    copy.addEventListener('click', () => {
      link.select();
      globalThis.navigator?.clipboard?.writeText(share.url).catch(() => {});
    });
    const watching = el('span', { className: 'watching', text: share.is_active ? '0 watching' : 'ended' });
    const online = el('ul', { className: 'online-list' });
    const comments = el('ol', { className: 'comment-list' });
    const item = el(
      'li',
      { className: 'share', 'data-share-id': share.id, 'data-active': String(share.is_active) },
      el('h3', { text: `${share.title} (${share.kind})` }),
      el('p', {}, link, copy, watching),
    );
    if (!share.is_active) return item;
    const endButton = el('button', { type: 'button', className: 'share-end', text: 'End share' });
    endButton.addEventListener('click', async () => {
      try {
        await call('POST', `${config.urls.shares}${share.id}/end/`);
      } catch (error) {
        fail(error);
      }
    });
    item.append(endButton, el('h4', { text: 'Watching' }), online, el('h4', { text: 'Comments' }), comments);
    followShare(share, { item, watching, online, comments });
    return item;
  }

  function followShare(share, view) {
    const topic = `share:${share.token}`;
    const commentNodes = new Map();
    const kick = async (id) => {
      try {
        await rt.send(topic, 'viewer.kick', { viewer: id });
      } catch (error) {
        fail(error);
      }
    };
    const hide = async (id) => {
      try {
        await rt.send(topic, 'comment.hide', { id });
      } catch (error) {
        fail(error);
      }
    };
    const renderRoom = (room) => {
      view.watching.textContent = watchingText(room);
      view.online.replaceChildren(
        ...room.online.map((person) => {
          const li = el('li', { 'data-role': person.role }, el('span', { text: person.name }));
          if (person.role !== 'owner') {
            const button = el('button', { type: 'button', className: 'kick', text: 'Kick' });
            button.addEventListener('click', () => kick(person.id));
            li.append(' ', button);
          }
          return li;
        }),
      );
    };
    const addComment = (comment) => {
      if (comment.hidden || commentNodes.has(comment.id)) return;
      const button = el('button', { type: 'button', className: 'hide', text: 'Hide' });
      button.addEventListener('click', () => hide(comment.id));
      const li = el('li', { className: 'comment', 'data-comment-id': comment.id }, el('strong', { text: comment.name }), el('span', { text: ` ${comment.message} ` }), button);
      commentNodes.set(comment.id, li);
      view.comments.append(li);
    };
    const handlers = {
      'room.updated': renderRoom,
      'comment.created': (payload) => addComment(payload.comment),
      'comment.restored': (payload) => addComment(payload.comment),
      'comment.hidden': (payload) => {
        commentNodes.get(payload.id)?.remove();
        commentNodes.delete(payload.id);
      },
      'share.ended': () => {
        rt.leave(topic).catch(() => {});
        view.item.dataset.active = 'false';
        view.watching.textContent = 'ended';
        view.item.querySelector('.share-end')?.remove();
      },
      'share.revoked': () => {
        rt.leave(topic).then(() => followShare(share, view), () => {});
      },
    };
    rt.join(topic, {}, {
      onJoin: (reply) => {
        renderRoom(reply.room);
        commentNodes.clear();
        view.comments.replaceChildren();
        reply.comments.forEach(addComment);
      },
      onEvent: (event, payload) => handlers[event]?.(payload),
    }).catch((error) => {
      if (error.code === 'not_found') handlers['share.ended']();
    });
  }

  function shareBody(form) {
    const data = new FormData(form);
    const body = {
      title: data.get('title'),
      kind: data.get('kind'),
      goals: data.get('scope') === 'all' ? 'all' : data.getAll('goal').map(Number),
      show_progress: data.get('show_progress') === 'on',
      show_reflections: data.get('show_reflections') === 'on',
      allow_comments: data.get('allow_comments') === 'on',
      allow_anonymous_comments: data.get('allow_anonymous_comments') === 'on',
      comment_interval: Number(data.get('comment_interval') || 0),
    };
    if (body.kind === 'password') body.password = data.get('password');
    return body;
  }

  // -- forms ------------------------------------------------------------------

  $('goal-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    errorLine.hidden = true;
    const form = event.target;
    const data = new FormData(form);
    const body = { title: data.get('title'), unit: data.get('unit') || '' };
    if (data.get('target')) body.target = Number(data.get('target'));
    try {
      goals = upsert(goals, await call('POST', config.urls.goals, body));
      form.reset();
      renderGoals();
    } catch (error) {
      fail(error);
    }
  });

  $('reflection-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    errorLine.hidden = true;
    const form = event.target;
    try {
      const reflection = await call('POST', config.urls.reflections, { text: new FormData(form).get('text') });
      $('reflection-list').prepend(renderReflection(reflection));
      form.reset();
    } catch (error) {
      fail(error);
    }
  });

  $('share-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    errorLine.hidden = true;
    const form = event.target;
    try {
      const share = await call('POST', config.urls.shares, shareBody(form));
      $('share-list').prepend(shareItem(share));
      form.reset();
    } catch (error) {
      fail(error);
    }
  });

  renderGoals();
  $('reflection-list').replaceChildren(...config.reflections.map(renderReflection));
  $('share-list').replaceChildren(...config.shares.map(shareItem));
}
