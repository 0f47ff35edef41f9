// The consumer portal: one application's endpoints, messages and event types.
//
// Portal.mount(root, ctx) draws the view the current route names under ctx.base. The
// portal page (/portal/{app_id}#key=...) mounts it with the app-portal token; the dashboard
// mounts the same views for any application with its own session. ctx:
//   api        a client (H.client)
//   appId      the application (id or uid) every call is made under
//   base       the route prefix of these views, e.g. [] or ['apps', 'app_123']
//   readOnly   hide every control that changes something (the API refuses them anyway)
//   noSecrets  hide the signing secret
'use strict';

const Portal = (() => {
  const { el, put, notice, badge, time, pretty, link, table } = H;

  /** Why an endpoint is disabled (`disabledReason`), in words. */
  const DISABLED = {
    manual: 'Disabled by a user.',
    gone: 'Disabled because it answered 410 Gone.',
    failing: 'Disabled because every attempt failed for too long.',
  };

  const STATUS_FILTERS = [['', 'Any status'], ['0', 'Succeeded'], ['2', 'Failed'], ['1', 'Pending'], ['3', 'Sending']];

  /** The event-type catalog, loaded once per mount. */
  function catalog(ctx) {
    if (!ctx.catalog) {
      ctx.catalog = ctx.api.get('/api/v1/event-type', { limit: 250, with_content: true })
        .then((r) => r.data)
        .catch(() => []);
    }
    return ctx.catalog;
  }

  function mount(root, ctx, parts, query) {
    const app = '/api/v1/app/' + encodeURIComponent(ctx.appId);
    const to = (...p) => link([...ctx.base, ...p]);
    const view = el('section', {});
    const tabs = [['endpoints', 'Endpoints'], ['messages', 'Messages'], ['event-types', 'Event types']];
    const current = parts[0] || 'endpoints';
    const nav = el('nav', { 'aria-label': 'Portal' }, el('ul', {}, tabs.map(([p, label]) =>
      el('li', {}, el('a', { href: to(p), 'aria-current': current === p ? 'page' : undefined, text: label })))));
    put(root, nav, view);
    const v = { ctx, app, to, view, query };
    switch (current) {
      case 'endpoints':
        if (parts[1] === 'new') return endpointForm(v, null);
        if (parts[1] && parts[2] === 'edit') return endpointForm(v, parts[1]);
        if (parts[1]) return endpointDetail(v, parts[1]);
        return endpointList(v);
      case 'messages':
        if (parts[1]) return messageDetail(v, parts[1]);
        return messageList(v);
      case 'event-types':
        return eventTypes(v);
      default:
        put(view, notice('error', 'There is no such page here.'));
    }
  }

  // --- Endpoints ---

  function endpointList(v) {
    const list = el('div', {});
    put(v.view,
      el('div', { class: 'row' }, el('h1', { text: 'Endpoints' }), el('span', { class: 'spacer' }),
        !v.ctx.readOnly && el('a', { class: 'button primary', href: v.to('endpoints', 'new'), text: 'Add endpoint' })),
      list);
    H.pagedList(list, (iterator) => v.ctx.api.get(v.app + '/endpoint', { limit: 25, iterator }), (items) =>
      table(['URL', 'Description', 'Event types', 'Status'], items.map((ep) => el('tr', {},
        el('td', { class: 'wrap' }, el('a', { href: v.to('endpoints', ep.id), text: ep.url })),
        el('td', { class: 'wrap', text: ep.description || '' }),
        el('td', { class: 'wrap', text: ep.filterTypes && ep.filterTypes.length ? ep.filterTypes.join(', ') : 'all' }),
        el('td', {}, badge(ep.disabled ? 'disabled' : 'enabled'))))));
  }

  async function endpointForm(v, id) {
    if (v.ctx.readOnly) {
      put(v.view, notice('error', 'This link can only view.'));
      return;
    }
    put(v.view, el('p', { class: 'muted', text: 'Loading…' }));
    let ep = null;
    let headers = {};
    try {
      if (id) {
        ep = await v.ctx.api.get(v.app + '/endpoint/' + encodeURIComponent(id));
        headers = (await v.ctx.api.get(v.app + '/endpoint/' + encodeURIComponent(id) + '/headers')).headers || {};
      }
    } catch (e) {
      put(v.view, notice('error', e.message));
      return;
    }
    const types = (await catalog(v.ctx)).filter((t) => !t.archived);
    const chosen = new Set((ep && ep.filterTypes) || []);
    const out = el('div', {});
    const form = el('form', { class: 'stack', novalidate: true },
      el('label', {}, 'Endpoint URL',
        el('input', { name: 'url', type: 'url', required: true, value: ep ? ep.url : '', placeholder: 'https://example.com/webhooks', autocomplete: 'off' })),
      el('label', {}, 'Description', el('input', { name: 'description', value: ep ? ep.description : '' })),
      el('fieldset', {}, el('legend', { text: 'Event types' }),
        el('p', { class: 'hint', text: 'None chosen: every event type is sent.' }),
        types.length
          ? types.map((t) => el('label', { class: 'check' },
            el('input', { type: 'checkbox', name: 'type:' + t.name, checked: chosen.has(t.name) }), t.name))
          : el('p', { class: 'muted', text: 'No event types are defined.' })),
      el('label', {}, 'Channels', el('span', { class: 'hint', text: 'Comma-separated; empty: every channel.' }),
        el('input', { name: 'channels', value: ep && ep.channels ? ep.channels.join(', ') : '' })),
      el('label', {}, 'Rate limit', el('span', { class: 'hint', text: 'Most deliveries per second; empty: no limit.' }),
        el('input', { name: 'rateLimit', type: 'number', min: 1, value: ep && ep.rateLimit ? ep.rateLimit : '' })),
      el('label', {}, 'Custom headers', el('span', { class: 'hint', text: 'One "Name: value" per line, sent with every delivery.' }),
        el('textarea', { name: 'headers', value: H.headerLines(headers) })),
      id && el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'disabled', checked: ep.disabled }), 'Disabled'),
      el('div', { class: 'row' },
        el('button', { type: 'submit', class: 'primary', text: id ? 'Save' : 'Create endpoint' }),
        el('a', { href: id ? v.to('endpoints', id) : v.to('endpoints'), text: 'Cancel' })),
      out);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = H.fields(form);
      const filterTypes = types.map((t) => t.name).filter((n) => f['type:' + n]);
      const channels = f.channels.split(',').map((c) => c.trim()).filter(Boolean);
      const body = {
        url: f.url.trim(),
        description: f.description,
        filterTypes: filterTypes.length ? filterTypes : null,
        channels: channels.length ? channels : null,
        rateLimit: f.rateLimit ? Number(f.rateLimit) : null,
      };
      if (id) body.disabled = f.disabled;
      let wanted;
      try {
        wanted = H.parseHeaderLines(f.headers);
      } catch (e) {
        put(out, notice('error', e.message));
        return;
      }
      const submit = form.querySelector('button[type=submit]');
      submit.disabled = true;
      try {
        const saved = id
          ? await v.ctx.api.patch(v.app + '/endpoint/' + encodeURIComponent(id), body)
          : await v.ctx.api.post(v.app + '/endpoint', body);
        if (id || Object.keys(wanted).length) {
          await v.ctx.api.put(v.app + '/endpoint/' + encodeURIComponent(saved.id) + '/headers', { headers: wanted });
        }
        location.hash = v.to('endpoints', saved.id);
      } catch (e) {
        put(out, notice('error', e.message));
      } finally {
        submit.disabled = false;
      }
    });
    put(v.view, el('h1', { text: id ? 'Edit endpoint' : 'Add endpoint' }), form);
  }

  async function endpointDetail(v, id) {
    const path = v.app + '/endpoint/' + encodeURIComponent(id);
    put(v.view, el('p', { class: 'muted', text: 'Loading…' }));
    let ep;
    try {
      ep = await v.ctx.api.get(path);
    } catch (e) {
      put(v.view, notice('error', e.status === 404 ? 'There is no such endpoint.' : e.message));
      return;
    }
    const out = el('div', {});
    const ro = v.ctx.readOnly;
    const controls = !ro && el('div', { class: 'row' },
      el('a', { class: 'button', href: v.to('endpoints', ep.id, 'edit'), text: 'Edit' }),
      H.actionButton(ep.disabled ? 'Enable' : 'Disable', out, async () => {
        await v.ctx.api.patch(path, { disabled: !ep.disabled });
        mountAgain(v);
      }),
      H.confirmButton('Delete', 'Click again to delete', async () => {
        try {
          await v.ctx.api.del(path);
          location.hash = v.to('endpoints');
        } catch (e) {
          put(out, notice('error', e.message));
        }
      }));
    const health = el('div', {});
    const lastError = el('div', {});
    put(v.view,
      el('p', {}, el('a', { href: v.to('endpoints'), text: '← Endpoints' })),
      el('h1', { class: 'wrap', text: ep.url }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Status' }), el('dd', {}, badge(ep.disabled ? 'disabled' : 'enabled'),
          ep.disabled && el('span', { id: 'disabled-reason', text: ' ' + (DISABLED[ep.disabledReason] || 'No reason was recorded.') })),
        el('dt', { text: 'Id' }), el('dd', { class: 'mono', text: ep.id }),
        el('dt', { text: 'Description' }), el('dd', { text: ep.description || '—' }),
        el('dt', { text: 'Event types' }), el('dd', { text: ep.filterTypes && ep.filterTypes.length ? ep.filterTypes.join(', ') : 'all' }),
        el('dt', { text: 'Channels' }), el('dd', { text: ep.channels && ep.channels.length ? ep.channels.join(', ') : 'all' }),
        el('dt', { text: 'Rate limit' }), el('dd', { text: ep.rateLimit ? ep.rateLimit + ' per second' : 'none' })),
      controls, out,
      el('h2', { text: 'Health (last 24 hours)' }), health, lastError,
      !v.ctx.noSecrets && secretPanel(v, path),
      !ro && testEventPanel(v, path, ep),
      !ro && recoverPanel(v, path),
      el('h2', { text: 'Delivery attempts' }), attemptsPanel(v, ep.id));
    healthPanel(v, path, health);
    lastFailure(v, ep.id, lastError);
  }

  function mountAgain(v) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }

  /** Counts by status over 24 hours, in 12 bars of 2 hours (one call: `stats/series`). */
  async function healthPanel(v, path, box) {
    put(box, el('p', { class: 'muted', text: 'Loading…' }));
    const span = 2 * 3600 * 1000;
    const end = Math.ceil(Date.now() / span) * span;
    try {
      const series = await v.ctx.api.get(path + '/stats/series', {
        since: new Date(end - 12 * span).toISOString(), until: new Date(end).toISOString(), buckets: 12,
      });
      const bars = series.data;
      const total = { success: 0, fail: 0, pending: 0, sending: 0 };
      for (const b of bars) for (const k of Object.keys(total)) total[k] += b[k];
      const done = total.success + total.fail;
      const rate = done ? ((100 * total.success) / done).toFixed(1) + ' %' : '—';
      put(box,
        el('div', { class: 'grid' },
          stat('Success rate', rate), stat('Succeeded', total.success), stat('Failed', total.fail),
          stat('Pending', total.pending + total.sending)),
        chart(bars.map((b) => Date.parse(b.since)), span, bars));
    } catch (e) {
      put(box, notice('error', e.message));
    }
  }

  function stat(label, value, id) {
    return el('div', { class: 'stat', id }, el('div', { class: 'value', text: value }), el('div', { class: 'label', text: label }));
  }

  /** Bars of succeeded (below) and failed (above) deliveries, one per period, labelled. */
  function chart(starts, span, bars) {
    const max = Math.max(1, ...bars.map((b) => b.success + b.fail));
    const step = 40;
    const w = bars.length * step;
    const h = 100;
    const hour = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const svg = el('svg:svg', { class: 'chart', viewBox: `0 0 ${w} ${h + 16}`, role: 'img',
      'aria-label': 'Deliveries per two hours over the last day: succeeded and failed' });
    bars.forEach((b, i) => {
      const ok = (b.success / max) * h;
      const bad = (b.fail / max) * h;
      const x = i * step + 6;
      const title = `${hour(starts[i])}–${hour(starts[i] + span)}: ${b.success} succeeded, ${b.fail} failed`;
      svg.append(el('svg:g', {}, el('svg:title', { text: title }),
        el('svg:rect', { class: 'ok', x, y: h - ok, width: step - 12, height: ok }),
        el('svg:rect', { class: 'bad', x, y: h - ok - bad, width: step - 12, height: bad })));
      if (i % 3 === 0) svg.append(el('svg:text', { class: 'tick', x: i * step + 2, y: h + 13, text: hour(starts[i]) }));
    });
    svg.append(el('svg:line', { class: 'axis', x1: 0, y1: h + 0.5, x2: w, y2: h + 0.5 }));
    return svg;
  }

  async function lastFailure(v, epId, box) {
    try {
      const page = await v.ctx.api.get(v.app + '/attempt/endpoint/' + encodeURIComponent(epId), { status: 2, limit: 1 });
      const a = page.data[0];
      if (!a) {
        put(box, el('p', { class: 'muted', text: 'No failed attempt on record.' }));
        return;
      }
      put(box, el('div', { class: 'panel' },
        el('h3', { text: 'Last failure' }),
        el('p', {}, time(a.timestamp), ' — ', a.responseStatusCode ? 'HTTP ' + a.responseStatusCode : 'no response',
          ' — ', el('a', { href: v.to('messages', a.msgId), text: a.msgId })),
        el('pre', { text: a.response || '' })));
    } catch (e) {
      put(box, notice('error', e.message));
    }
  }

  function secretPanel(v, path) {
    const shown = el('div', {});
    const out = el('div', {});
    return el('section', {},
      el('h2', { text: 'Signing secret' }),
      el('p', { class: 'hint', text: 'Verify each delivery\'s webhook-signature header with this secret.' }),
      el('div', { class: 'row' },
        H.actionButton('Reveal secret', out, async () => {
          const s = await v.ctx.api.get(path + '/secret');
          put(shown, el('code', { class: 'wrap', id: 'secret-value', text: s.key }));
        }),
        !v.ctx.readOnly && H.confirmButton('Rotate secret', 'Click again to rotate', async () => {
          try {
            await v.ctx.api.post(path + '/secret/rotate', {});
            const s = await v.ctx.api.get(path + '/secret');
            put(shown, el('code', { class: 'wrap', id: 'secret-value', text: s.key }));
            put(out, notice('ok', 'Rotated. The previous secret keeps signing for a grace period.'));
          } catch (e) {
            put(out, notice('error', e.message));
          }
        }, 'button')),
      shown, out);
  }

  function testEventPanel(v, path, ep) {
    const out = el('div', {});
    const select = el('select', { name: 'eventType', 'aria-label': 'Event type to send' });
    catalog(v.ctx).then((types) => {
      const allowed = types.filter((t) => !t.archived && (!ep.filterTypes || !ep.filterTypes.length || ep.filterTypes.includes(t.name)));
      put(select, allowed.map((t) => el('option', { value: t.name, text: t.name })));
      if (!allowed.length) select.append(el('option', { value: '', text: 'no event types' }));
    });
    return el('section', {},
      el('h2', { text: 'Send a test event' }),
      el('div', { class: 'row' }, select,
        H.actionButton('Send example', out, async () => {
          if (!select.value) throw new Error('Define an event type first.');
          const msg = await v.ctx.api.post(path + '/send-example', { eventType: select.value });
          put(out, notice('ok', 'Sent. '), el('a', { href: v.to('messages', msg.id), text: 'See message ' + msg.id }));
        })),
      out);
  }

  function recoverPanel(v, path) {
    const out = el('div', {});
    const since = el('input', { type: 'datetime-local', name: 'since', value: H.toLocalInput(new Date(Date.now() - 86400000)) });
    return el('section', {},
      el('h2', { text: 'Recover failed messages' }),
      el('div', { class: 'row' },
        el('label', { class: 'check' }, 'Since', since),
        H.actionButton('Recover', out, async () => {
          const task = await v.ctx.api.post(path + '/recover', { since: H.fromLocalInput(since.value) });
          follow(v, task.id, out);
        })),
      out);
  }

  /** Shows a background task's progress until it finishes. */
  async function follow(v, taskId, out) {
    for (;;) {
      let t;
      try {
        t = await v.ctx.api.get('/api/v1/background-task/' + encodeURIComponent(taskId));
      } catch (e) {
        put(out, notice('error', e.message));
        return;
      }
      const sent = t.data ? t.data.messagesSent : 0;
      put(out, el('p', { class: 'notice', role: 'status', 'data-task-status': t.status,
        text: `Recovery ${t.status}: ${sent} message${sent === 1 ? '' : 's'} re-sent.` }));
      if (t.status !== 'running' || !document.contains(out)) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function attemptsPanel(v, epId) {
    const list = el('div', {});
    const status = el('select', { 'aria-label': 'Attempt status' },
      STATUS_FILTERS.map(([value, label]) => el('option', { value, text: label })));
    const load = () => H.pagedList(list,
      (iterator) => v.ctx.api.get(v.app + '/attempt/endpoint/' + encodeURIComponent(epId), { limit: 20, iterator, status: status.value }),
      (items) => attemptTable(v, items, false));
    status.addEventListener('change', load);
    load();
    return el('div', {}, el('div', { class: 'row' }, status), list);
  }

  function attemptTable(v, items, withEndpoint) {
    return table(['Time', withEndpoint ? 'Endpoint' : 'Message', 'Status', 'Response', 'Duration'],
      items.map((a) => el('tr', {},
        el('td', { text: time(a.timestamp) }),
        withEndpoint
          ? el('td', { class: 'wrap' }, el('a', { href: v.to('endpoints', a.endpointId), text: a.url }))
          : el('td', { class: 'mono' }, el('a', { href: v.to('messages', a.msgId), text: a.msgId })),
        el('td', {}, badge(a.status)),
        el('td', { class: 'wrap' },
          a.responseStatusCode ? 'HTTP ' + a.responseStatusCode : 'no response',
          a.response ? el('details', {}, el('summary', { text: 'body' }), el('pre', { class: 'response', text: a.response })) : null),
        el('td', { text: a.responseDurationMs + ' ms' }))));
  }

  // --- Messages ---

  async function messageList(v) {
    const q = v.query;
    const [types, endpoints] = await Promise.all([
      catalog(v.ctx),
      v.ctx.api.get(v.app + '/endpoint', { limit: 250 }).then((r) => r.data).catch(() => []),
    ]);
    const search = el('form', { class: 'row', role: 'search' },
      el('label', { class: 'sr-only', for: 'msg-search', text: 'Message id or event id' }),
      el('input', { id: 'msg-search', name: 'id', placeholder: 'Message id or eventId', size: 30 }),
      el('button', { type: 'submit', text: 'Find' }));
    search.addEventListener('submit', (e) => {
      e.preventDefault();
      const id = search.elements.id.value.trim();
      if (id) location.hash = v.to('messages', id);
    });
    const filters = el('form', { class: 'row' },
      el('label', { class: 'check' }, 'Event type', el('select', { name: 'event_types' },
        el('option', { value: '', text: 'All' }),
        types.map((t) => el('option', { value: t.name, text: t.name, selected: q.event_types === t.name })))),
      el('label', { class: 'check' }, 'Endpoint', el('select', { name: 'endpoint' },
        el('option', { value: '', text: 'All' }),
        endpoints.map((ep) => el('option', { value: ep.id, text: ep.url, selected: q.endpoint === ep.id })))),
      el('label', { class: 'check' }, 'Status', el('select', { name: 'status' },
        STATUS_FILTERS.map(([value, label]) => el('option', { value, text: label, selected: (q.status || '') === value })))),
      el('label', { class: 'check' }, 'After', el('input', { type: 'datetime-local', name: 'after', value: q.after ? H.toLocalInput(new Date(q.after)) : '' })),
      el('label', { class: 'check' }, 'Before', el('input', { type: 'datetime-local', name: 'before', value: q.before ? H.toLocalInput(new Date(q.before)) : '' })),
      el('button', { type: 'submit', text: 'Filter' }));
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      const f = H.fields(filters);
      location.hash = link([...v.ctx.base, 'messages'], {
        event_types: f.event_types, endpoint: f.endpoint, status: f.status,
        after: H.fromLocalInput(f.after), before: H.fromLocalInput(f.before),
      });
    });
    const list = el('div', {});
    const note = el('p', { class: 'hint' });
    put(v.view, el('h1', { text: 'Messages' }), search, filters, note, list);
    const byStatus = q.status !== undefined && q.status !== '';
    if (byStatus && !q.endpoint) {
      put(note, 'A status belongs to a delivery to one endpoint: choose the endpoint too.');
      return;
    }
    const common = { event_types: q.event_types, after: q.after, before: q.before, limit: 20 };
    if (q.endpoint) {
      put(note, 'Delivery attempts to this endpoint, newest first.');
      H.pagedList(list,
        (iterator) => v.ctx.api.get(v.app + '/attempt/endpoint/' + encodeURIComponent(q.endpoint), { ...common, status: q.status, iterator }),
        (items) => attemptTable(v, items, false));
      return;
    }
    H.pagedList(list,
      (iterator) => v.ctx.api.get(v.app + '/msg', { ...common, with_content: false, iterator }),
      (items) => table(['Time', 'Message', 'Event type', 'Event id'], items.map((m) => el('tr', {},
        el('td', { text: time(m.timestamp) }),
        el('td', { class: 'mono' }, el('a', { href: v.to('messages', m.id), text: m.id })),
        el('td', { text: m.eventType }),
        el('td', { class: 'wrap', text: m.eventId || '' })))));
  }

  async function messageDetail(v, id) {
    const path = v.app + '/msg/' + encodeURIComponent(id);
    put(v.view, el('p', { class: 'muted', text: 'Loading…' }));
    let msg;
    try {
      msg = await v.ctx.api.get(path);
    } catch (e) {
      put(v.view, el('p', {}, el('a', { href: v.to('messages'), text: '← Messages' })),
        notice('error', e.status === 404 ? 'There is no message with that id or eventId.' : e.message));
      return;
    }
    const msgPath = v.app + '/msg/' + encodeURIComponent(msg.id);
    const deliveries = el('div', {});
    const attempts = el('div', {});
    put(v.view,
      el('p', {}, el('a', { href: v.to('messages'), text: '← Messages' })),
      el('h1', { class: 'mono', text: msg.id }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Event type' }), el('dd', { text: msg.eventType }),
        el('dt', { text: 'Event id' }), el('dd', { text: msg.eventId || '—' }),
        el('dt', { text: 'Channels' }), el('dd', { text: msg.channels && msg.channels.length ? msg.channels.join(', ') : '—' }),
        el('dt', { text: 'Sent' }), el('dd', { text: time(msg.timestamp) })),
      el('h2', { text: 'Payload' }),
      el('pre', { id: 'payload', text: msg.payload === undefined || msg.payload === null ? '(expunged)' : pretty(msg.payload) }),
      el('h2', { text: 'Deliveries' }), deliveries,
      el('h2', { text: 'Attempts' }), attempts);
    showDeliveries(v, msgPath, deliveries, attempts);
  }

  async function showDeliveries(v, msgPath, deliveries, attempts) {
    try {
      const [dests, tries] = await Promise.all([
        v.ctx.api.get(msgPath + '/endpoint', { limit: 250 }),
        v.ctx.api.get(v.app + '/attempt/msg/' + msgPath.split('/').pop(), { limit: 250 }),
      ]);
      const out = el('div', {});
      put(deliveries, dests.data.length ? table(['Endpoint', 'Status', 'Next attempt', ''], dests.data.map((d) => el('tr', {},
        el('td', { class: 'wrap' }, el('a', { href: v.to('endpoints', d.id), text: d.url })),
        el('td', {}, badge(d.status)),
        el('td', { text: d.nextAttempt ? time(d.nextAttempt) : '—' }),
        el('td', {}, !v.ctx.readOnly && H.actionButton('Resend', out, async () => {
          await v.ctx.api.post(msgPath + '/endpoint/' + encodeURIComponent(d.id) + '/resend', {});
          put(out, notice('ok', 'Resent to ' + d.url + '.'));
          setTimeout(() => showDeliveries(v, msgPath, deliveries, attempts), 800);
        }))))) : el('p', { class: 'muted', text: 'No endpoint was subscribed to this message.' }), out);
      put(attempts, tries.data.length ? attemptTable(v, tries.data, true) : el('p', { class: 'muted', text: 'No attempt yet.' }));
    } catch (e) {
      put(deliveries, notice('error', e.message));
    }
  }

  // --- Event types ---

  async function eventTypes(v) {
    const types = await catalog(v.ctx);
    put(v.view, el('h1', { text: 'Event types' }),
      types.length ? types.filter((t) => !t.archived).map((t) => el('details', { class: 'panel' },
        el('summary', {}, el('strong', { text: t.name }), ' — ', t.description || ''),
        schemaBlocks(t))) : el('p', { class: 'muted', text: 'No event types are defined.' }));
  }

  function schemaBlocks(t) {
    const schemas = t.schemas || {};
    const versions = Object.keys(schemas);
    if (!versions.length) return el('p', { class: 'muted', text: 'No schema.' });
    return versions.map((ver) => {
      const s = schemas[ver];
      const example = s && Array.isArray(s.examples) && s.examples.length ? s.examples[0] : undefined;
      return el('div', {},
        el('h3', { text: 'Schema, version ' + ver }), el('pre', { text: pretty(s) }),
        example !== undefined && el('h3', { text: 'Example payload' }),
        example !== undefined && el('pre', { text: pretty(example) }));
    });
  }

  // --- The portal page ---

  /** The claims an app-portal token carries (see portal_token.rs; read for display only). */
  function claims(token) {
    try {
      const b64 = token.slice('appsk_'.length).replace(/-/g, '+').replace(/_/g, '/');
      const raw = Uint8Array.from(atob(b64 + '==='.slice((b64.length + 3) % 4)), (c) => c.charCodeAt(0));
      if (raw[0] !== 1) return null;
      let expires = 0;
      for (let i = 2; i < 10; i++) expires = expires * 256 + raw[i];
      return { readOnly: (raw[1] & 1) !== 0, noSecrets: (raw[1] & 2) !== 0, expiresAt: expires };
    } catch {
      return null;
    }
  }

  /** Svix's portal-link options, as query parameters of the link. */
  function theme(params, root) {
    const color = params.get('primaryColor');
    if (color && /^#?[0-9a-fA-F]{3,8}$/.test(color)) {
      document.documentElement.style.setProperty('--primary', color.startsWith('#') ? color : '#' + color);
    }
    if (params.get('darkMode') === 'true') document.documentElement.classList.add('dark');
    const font = params.get('fontFamily');
    if (font && /^[\w\s,"'-]{1,100}$/.test(font)) {
      document.documentElement.style.setProperty('--font', font + ', system-ui, sans-serif');
    }
    if (params.get('noGutters') === 'true') root.classList.add('no-gutters');
    if (params.get('hideNavigation') === 'true') document.body.classList.add('hide-nav');
  }

  function boot() {
    const root = document.getElementById('root');
    const params = new URLSearchParams(location.search);
    theme(params, root);
    const appId = decodeURIComponent(location.pathname.replace(/^\/portal\/?/, '').split('/')[0] || '');
    if (!appId) {
      put(root, el('h1', { text: 'Webhooks' }), notice('error', 'Open the portal link you were given.'));
      return;
    }
    const store = 'hookd.portal.' + appId;
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
    let token = fragment.get('key');
    if (token) {
      try { sessionStorage.setItem(store, token); } catch { /* storage off: the token lives in memory */ }
      history.replaceState(null, '', location.pathname + location.search + '#/endpoints');
    } else {
      try { token = sessionStorage.getItem(store); } catch { token = null; }
    }
    if (!token) {
      put(root, el('h1', { text: 'Webhooks' }), notice('error', 'This link is incomplete: open the portal link you were given.'));
      return;
    }
    const c = claims(token) || { readOnly: false, noSecrets: false, expiresAt: 0 };
    const shell = el('div', {});
    const header = el('header', { class: 'top' }, el('span', { class: 'brand', id: 'app-name', text: 'Webhooks' }),
      el('span', { class: 'spacer' }), c.readOnly && el('span', { class: 'badge', text: 'read-only' }));
    put(root, header, shell);
    const ctx = { api: H.client({ token }), appId, base: [], readOnly: c.readOnly, noSecrets: c.noSecrets };
    H.client.onRefused = () => {
      put(root, el('h1', { text: 'Webhooks' }), notice('error', 'This portal link has expired or is no longer valid. Ask for a new one.'));
      window.removeEventListener('hashchange', draw);
    };
    ctx.api.get('/api/v1/app/' + encodeURIComponent(appId)).then((app) => {
      put(header.querySelector('#app-name'), app.name);
      document.title = app.name + ' — Webhooks';
    }).catch((e) => {
      if (e.status === 403 || e.status === 404) {
        put(root, el('h1', { text: 'Webhooks' }), notice('error', 'This link does not give access to this application.'));
        window.removeEventListener('hashchange', draw);
      }
    });
    function draw() {
      const r = H.route();
      mount(shell, ctx, r.parts, r.query);
    }
    window.addEventListener('hashchange', draw);
    draw();
  }

  if (document.body && document.body.dataset.page === 'portal') boot();
  return { mount };
})();
