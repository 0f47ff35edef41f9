// The operator dashboard (/ui): sign-in with the admin token, then the overview (from the
// engine's own counters, /ui/metrics), applications and their portal views, portal links,
// event types, ingest sources, background tasks and the nodes holding leases.
'use strict';

(() => {
  const { el, put, notice, badge, time, pretty, link, table } = H;
  const root = document.getElementById('root');
  let api = null;
  let timer = null;

  async function start() {
    let session;
    try {
      const res = await fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store' });
      if (res.ok) session = await res.json();
    } catch { /* shown as signed out */ }
    if (!session) return signInForm();
    api = H.client({ csrf: session.csrf });
    H.client.onRefused = () => signInForm('Your session has ended. Sign in again.');
    window.addEventListener('hashchange', draw);
    draw();
  }

  function signInForm(message) {
    window.removeEventListener('hashchange', draw);
    const out = el('div', {}, message && notice('error', message));
    const form = el('form', { class: 'stack panel', id: 'sign-in' },
      el('h1', { text: 'hookd dashboard' }),
      el('label', {}, 'Admin token', el('input', { name: 'token', type: 'password', required: true, autocomplete: 'current-password' })),
      el('button', { type: 'submit', class: 'primary', text: 'Sign in' }), out);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const res = await fetch('/ui/session', {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: form.elements.token.value }),
      });
      if (!res.ok) {
        put(out, notice('error', res.status === 401 ? 'That is not the admin token.' : 'Sign-in failed (HTTP ' + res.status + ').'));
        return;
      }
      start();
    });
    put(root, form);
    form.elements.token.focus();
  }

  const SECTIONS = [['', 'Overview'], ['apps', 'Applications'], ['event-types', 'Event types'],
    ['sources', 'Ingest sources'], ['tasks', 'Background tasks']];

  function draw() {
    clearInterval(timer);
    const r = H.route();
    const section = r.parts[0] || '';
    const view = el('section', {});
    const signOut = el('button', {
      type: 'button', text: 'Sign out', onclick: async () => {
        try { await api.del('/ui/session'); } catch { /* the cookie is cleared anyway */ }
        signInForm();
      },
    });
    put(root,
      el('header', { class: 'top' }, el('span', { class: 'brand', text: 'hookd' }),
        el('nav', { 'aria-label': 'Dashboard' }, el('ul', {}, SECTIONS.map(([p, label]) =>
          el('li', {}, el('a', { href: '#/' + p, 'aria-current': section === p ? 'page' : undefined, text: label }))))),
        el('span', { class: 'spacer' }), signOut),
      view);
    const run = {
      '': () => overview(view),
      apps: () => (r.parts[1] ? application(view, r.parts[1], r.parts.slice(2), r.query) : applications(view, r.query)),
      'event-types': () => (r.parts[1] ? eventTypeForm(view, r.parts[1]) : eventTypes(view)),
      sources: () => (r.parts[1] ? source(view, r.parts[1]) : sources(view)),
      tasks: () => tasks(view, r.query),
    }[section];
    (run || (() => put(view, notice('error', 'There is no such page here.'))))();
  }

  // --- Overview: the /metrics page, read every 2 seconds ---

  /** Prometheus text → [{name, labels, value}]. */
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
      out.push({ name: m[1], labels, value: Number(m[4]) });
    }
    return out;
  }
  const sum = (ms, name, pred) => ms.filter((m) => m.name === name && (!pred || pred(m.labels))).reduce((a, m) => a + m.value, 0);

  /** A quantile from histogram buckets (cumulative counts by `le`), as the upper bound. */
  function quantile(buckets, q) {
    const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
    if (!total) return null;
    const found = buckets.find(([, c]) => c >= q * total);
    return found ? found[0] : null;
  }
  function buckets(ms, name, prev) {
    const now = ms.filter((m) => m.name === name + '_bucket').map((m) => [Number(m.labels.le === '+Inf' ? Infinity : m.labels.le), m.value]);
    if (!prev) return now;
    const before = new Map(buckets(prev, name).map(([le, c]) => [le, c]));
    return now.map(([le, c]) => [le, c - (before.get(le) || 0)]);
  }
  const seconds = (s) => (s === null ? '—' : s === Infinity ? '> max' : s < 1 ? Math.round(s * 1000) + ' ms' : s.toFixed(1) + ' s');

  function overview(view) {
    const stats = el('div', { class: 'grid' });
    const failing = el('div', {});
    const nodes = el('div', {});
    put(view, el('h1', { text: 'Overview' }),
      el('p', { class: 'hint', text: 'Rates and latencies are this node\'s, over the last few seconds; the queue is every node\'s.' }),
      stats, el('h2', { text: 'Endpoints furthest behind' }), failing, el('h2', { text: 'Nodes holding leases' }), nodes);
    let prev = null;
    let prevAt = 0;
    async function tick() {
      let ms;
      try {
        ms = parseMetrics(await api.text('/ui/metrics'));
      } catch (e) {
        put(stats, notice('error', e.message));
        return;
      }
      const at = Date.now();
      const dt = prev ? (at - prevAt) / 1000 : 0;
      const total = sum(ms, 'hookd_deliveries_total');
      const ok = sum(ms, 'hookd_deliveries_total', (l) => l.outcome === 'success');
      const accepted = sum(ms, 'hookd_messages_accepted_total');
      const dTotal = prev ? total - sum(prev, 'hookd_deliveries_total') : total;
      const dOk = prev ? ok - sum(prev, 'hookd_deliveries_total', (l) => l.outcome === 'success') : ok;
      const rate = (x) => (dt ? (x / dt).toFixed(1) : '—');
      const attemptBuckets = buckets(ms, 'hookd_attempt_duration_seconds', prev);
      const useful = attemptBuckets.length && attemptBuckets[attemptBuckets.length - 1][1] > 0;
      const latency = useful ? attemptBuckets : buckets(ms, 'hookd_attempt_duration_seconds');
      put(stats,
        stat('Deliveries per second', rate(dTotal), 'deliveries-rate'),
        stat('Messages accepted per second', prev ? rate(accepted - sum(prev, 'hookd_messages_accepted_total')) : '—'),
        stat('Success rate', dTotal ? ((100 * dOk) / dTotal).toFixed(1) + ' %' : '—', 'success-rate'),
        stat('Attempt latency p50', seconds(quantile(latency, 0.5))),
        stat('Attempt latency p99', seconds(quantile(latency, 0.99))),
        stat('Delivery latency p99', seconds(quantile(buckets(ms, 'hookd_delivery_latency_seconds'), 0.99))),
        stat('Queue depth', sum(ms, 'hookd_queue_deliveries'), 'queue-depth'),
        stat('Oldest due delivery', seconds(sum(ms, 'hookd_queue_oldest_due_age_seconds'))),
        stat('Oldest undelivered', seconds(sum(ms, 'hookd_queue_oldest_undelivered_age_seconds'))),
        stat('Disabled endpoints', sum(ms, 'hookd_endpoints_disabled'), 'disabled-endpoints'),
        stat('Attempts (since start)', total),
        stat('Failed for good (since start)', sum(ms, 'hookd_retries_exhausted_total')));
      const behind = ms.filter((m) => m.name === 'hookd_endpoint_oldest_undelivered_age_seconds');
      put(failing, behind.length ? table(['Application', 'Endpoint', 'Oldest undelivered'], behind.map((m) => el('tr', {},
        el('td', { class: 'mono' }, el('a', { href: link(['apps', m.labels.app_id]), text: m.labels.app_id })),
        el('td', { class: 'mono' }, el('a', { href: link(['apps', m.labels.app_id, 'endpoints', m.labels.endpoint_id]), text: m.labels.endpoint_id })),
        el('td', { text: seconds(m.value) })))) : el('p', { class: 'muted', text: 'Every endpoint is up to date.' }));
      const leased = ms.filter((m) => m.name === 'hookd_node_leased_deliveries');
      put(nodes, leased.length ? table(['Node', 'Leased deliveries', 'Flow-controlled endpoints'], leased.map((m) => el('tr', {},
        el('td', { class: 'mono', text: m.labels.node }), el('td', { text: m.value }),
        el('td', { text: sum(ms, 'hookd_node_flow_endpoints', (l) => l.node === m.labels.node) })))) :
        el('p', { class: 'muted', text: 'No node holds a lease now.' }));
      prev = ms;
      prevAt = at;
    }
    tick();
    timer = setInterval(() => { if (document.contains(stats)) tick(); else clearInterval(timer); }, 2000);
  }

  function stat(label, value, id) {
    return el('div', { class: 'stat', id }, el('div', { class: 'value', text: value }), el('div', { class: 'label', text: label }));
  }

  // --- Applications ---

  function applications(view, query) {
    const list = el('div', {});
    const search = el('form', { class: 'row', role: 'search' },
      el('label', { class: 'sr-only', for: 'app-search', text: 'Application id, uid or name' }),
      el('input', { id: 'app-search', name: 'q', placeholder: 'Id, uid, or a name on this page', value: query.q || '', size: 32 }),
      el('button', { type: 'submit', text: 'Search' }));
    const out = el('div', {});
    search.addEventListener('submit', async (e) => {
      e.preventDefault();
      const q = search.elements.q.value.trim();
      if (!q) return;
      try {
        const app = await api.get('/api/v1/app/' + encodeURIComponent(q));
        location.hash = link(['apps', app.id]);
      } catch (err) {
        if (err.status !== 404) return put(out, notice('error', err.message));
        location.hash = link(['apps'], { q });
      }
    });
    put(view, el('h1', { text: 'Applications' }), search, out, list);
    const needle = (query.q || '').toLowerCase();
    if (needle) put(out, el('p', { class: 'hint', text: 'No application has that id or uid; showing the names that contain it, page by page.' }));
    H.pagedList(list, (iterator) => api.get('/api/v1/app', { limit: 50, iterator }), (items) => {
      const shown = needle ? items.filter((a) => (a.name || '').toLowerCase().includes(needle)) : items;
      return table(['Name', 'Id', 'Uid', 'Created'], shown.map((a) => el('tr', {},
        el('td', {}, el('a', { href: link(['apps', a.id]), text: a.name })),
        el('td', { class: 'mono', text: a.id }), el('td', { class: 'mono', text: a.uid || '' }),
        el('td', { text: time(a.createdAt) }))));
    });
  }

  async function application(view, appId, rest, query) {
    const shell = el('div', {});
    const title = el('h1', { text: appId });
    const tabs = el('p', { class: 'row' },
      el('a', { href: link(['apps']), text: '← Applications' }), el('span', { class: 'spacer' }),
      el('a', { class: 'button', href: link(['apps', appId, 'portal-link']), text: 'Portal link' }));
    put(view, tabs, title, shell);
    api.get('/api/v1/app/' + encodeURIComponent(appId)).then((a) => put(title, a.name, ' ', el('span', { class: 'muted mono', text: a.id }))).catch((e) => put(shell, notice('error', e.message)));
    if (rest[0] === 'portal-link') return portalLink(shell, appId);
    Portal.mount(shell, { api, appId, base: ['apps', appId] }, rest, query);
  }

  function portalLink(view, appId) {
    const out = el('div', {});
    const form = el('form', { class: 'stack' },
      el('label', {}, 'Valid for', el('select', { name: 'expiry' },
        [['3600', '1 hour'], ['86400', '1 day'], ['604800', '7 days']].map(([v, l]) => el('option', { value: v, text: l, selected: v === '86400' })))),
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'readOnly' }), 'Read-only (can view, cannot change anything)'),
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'noSecrets' }), 'Hide signing secrets'),
      el('button', { type: 'submit', class: 'primary', text: 'Create link' }), out);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = H.fields(form);
      const body = { expiry: Number(f.expiry), readOnly: f.readOnly };
      if (f.noSecrets) body.capabilities = f.readOnly ? ['ViewBase'] : ['ViewBase', 'ManageEndpoint'];
      try {
        if (f.noSecrets && !f.readOnly) throw new Error('Hiding secrets needs a read-only link: managing endpoints includes their secrets.');
        const res = await api.post('/api/v1/auth/app-portal-access/' + encodeURIComponent(appId), body);
        put(out,
          el('label', {}, 'Portal link', el('input', { id: 'portal-url', readonly: true, value: res.url })),
          el('p', {}, el('a', { href: res.url, target: '_blank', rel: 'noopener noreferrer', text: 'Open the portal' })),
          el('p', { class: 'hint', text: 'Embed it in your own page (the token is in the fragment, never sent to a server):' }),
          el('pre', { text: '<iframe src="' + res.url + '" title="Webhooks" width="100%" height="800"></iframe>' }));
      } catch (err) {
        put(out, notice('error', err.message));
      }
    });
    put(view, el('h2', { text: 'Consumer portal link' }), form);
  }

  // --- Event types ---

  function eventTypes(view) {
    const list = el('div', {});
    put(view, el('div', { class: 'row' }, el('h1', { text: 'Event types' }), el('span', { class: 'spacer' }),
      el('a', { class: 'button primary', href: link(['event-types', 'new']), text: 'New event type' })), list);
    H.pagedList(list, (iterator) => api.get('/api/v1/event-type', { limit: 50, iterator, include_archived: true, with_content: true }),
      (items) => table(['Name', 'Description', 'Schemas', ''], items.map((t) => el('tr', {},
        el('td', {}, el('a', { href: link(['event-types', t.name]), text: t.name })),
        el('td', { class: 'wrap', text: t.description }),
        el('td', { text: Object.keys(t.schemas || {}).join(', ') || '—' }),
        el('td', {}, t.archived && badge('archived'))))));
  }

  async function eventTypeForm(view, name) {
    const isNew = name === 'new';
    let t = { name: '', description: '', schemas: null, archived: false };
    if (!isNew) {
      try {
        t = await api.get('/api/v1/event-type/' + encodeURIComponent(name));
      } catch (e) {
        return put(view, notice('error', e.message));
      }
    }
    const out = el('div', {});
    const form = el('form', { class: 'stack' },
      el('label', {}, 'Name', el('input', { name: 'name', required: true, value: t.name, readonly: !isNew, placeholder: 'invoice.paid' })),
      el('label', {}, 'Description', el('input', { name: 'description', value: t.description })),
      el('label', {}, 'Schemas', el('span', { class: 'hint', text: 'JSON: {"1": {JSON Schema, with "examples"}}; empty for none.' }),
        el('textarea', { name: 'schemas', rows: 12, value: t.schemas ? pretty(t.schemas) : '' })),
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'archived', checked: t.archived }), 'Archived'),
      el('div', { class: 'row' }, el('button', { type: 'submit', class: 'primary', text: isNew ? 'Create' : 'Save' }),
        el('a', { href: link(['event-types']), text: 'Cancel' })), out);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = H.fields(form);
      let schemas = null;
      try {
        if (f.schemas.trim()) schemas = JSON.parse(f.schemas);
      } catch (err) {
        return put(out, notice('error', 'Schemas are not valid JSON: ' + err.message));
      }
      const body = { description: f.description, schemas, archived: f.archived };
      try {
        if (isNew) await api.post('/api/v1/event-type', { name: f.name.trim(), ...body });
        else await api.patch('/api/v1/event-type/' + encodeURIComponent(t.name), body);
        location.hash = link(['event-types']);
      } catch (err) {
        put(out, notice('error', err.message));
      }
    });
    put(view, el('h1', { text: isNew ? 'New event type' : t.name }), form);
  }

  // --- Ingest sources ---

  function sources(view) {
    const list = el('div', {});
    put(view, el('h1', { text: 'Ingest sources' }), list);
    H.pagedList(list, (iterator) => api.get('/ingest/api/v1/source', { limit: 50, iterator }),
      (items) => table(['Name', 'Provider', 'Receive URL'], items.map((s) => el('tr', {},
        el('td', {}, el('a', { href: link(['sources', s.id]), text: s.name })),
        el('td', { text: s.hookdType || s.type }),
        el('td', { class: 'wrap mono', text: s.ingestUrl })))));
  }

  async function source(view, id) {
    const path = '/ingest/api/v1/source/' + encodeURIComponent(id);
    let s;
    try {
      s = await api.get(path);
    } catch (e) {
      return put(view, notice('error', e.message));
    }
    const url = el('code', { class: 'wrap', text: s.ingestUrl });
    const out = el('div', {});
    const rejections = el('div', {});
    const endpoints = el('div', {});
    const appUid = 'hookd-ingest-' + s.id;
    put(view,
      el('p', {}, el('a', { href: link(['sources']), text: '← Ingest sources' })),
      el('h1', { text: s.name }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Provider' }), el('dd', { text: s.hookdType || s.type }),
        el('dt', { text: 'Receive URL' }), el('dd', {}, url),
        el('dt', { text: 'Id' }), el('dd', { class: 'mono', text: s.id })),
      el('div', { class: 'row' },
        H.confirmButton('Rotate receive URL', 'Click again to rotate', async () => {
          try {
            const r = await api.post(path + '/token/rotate', {});
            put(url, r.ingestUrl);
            put(out, notice('ok', 'Rotated. The previous URL keeps working for a grace period.'));
          } catch (e) {
            put(out, notice('error', e.message));
          }
        }, 'button'),
        el('a', { class: 'button', href: link(['apps', appUid, 'messages']), text: 'Forwarded events and their deliveries' })),
      out,
      el('h2', { text: 'Forwarding endpoints' }), endpoints,
      el('h2', { text: 'Rejected requests' }), rejections);
    H.pagedList(endpoints, (iterator) => api.get(path + '/endpoint', { limit: 50, iterator }),
      (items) => table(['URL', 'Status'], items.map((ep) => el('tr', {},
        el('td', { class: 'wrap' }, el('a', { href: link(['apps', appUid, 'endpoints', ep.id]), text: ep.url })),
        el('td', {}, badge(ep.disabled ? 'disabled' : 'enabled'))))));
    H.pagedList(rejections, (iterator) => api.get(path + '/rejection', { limit: 25, iterator }),
      (items) => table(['Received', 'Code', 'Reason'], items.map((r) => el('tr', {},
        el('td', { text: time(r.receivedAt) }),
        el('td', { class: 'mono', text: r.code }),
        el('td', { class: 'wrap' }, r.detail,
          el('details', {}, el('summary', { text: 'request (' + r.bodySize + ' bytes)' }),
            el('pre', { text: H.headerLines(r.headers) + '\n\n' + r.body })))))));
  }

  // --- Background tasks ---

  function tasks(view, query) {
    const list = el('div', {});
    const status = el('select', { 'aria-label': 'Task status' },
      [['', 'Any status'], ['running', 'Running'], ['finished', 'Finished'], ['failed', 'Failed']]
        .map(([v, l]) => el('option', { value: v, text: l, selected: (query.status || '') === v })));
    status.addEventListener('change', () => { location.hash = link(['tasks'], { status: status.value }); });
    put(view, el('h1', { text: 'Background tasks' }), el('div', { class: 'row' }, status), list);
    H.pagedList(list, (iterator) => api.get('/api/v1/background-task', { limit: 50, iterator, status: query.status }),
      (items) => table(['Task', 'Status', 'Application / endpoint', 'Re-sent', 'Updated'], items.map((t) => el('tr', {},
        el('td', {}, el('span', { class: 'mono', text: t.id }), ' ', t.task),
        el('td', {}, badge(t.status)),
        el('td', { class: 'mono' }, el('a', { href: link(['apps', t.data.appId, 'endpoints', t.data.endpointId]), text: t.data.appId + ' / ' + t.data.endpointId })),
        el('td', { text: t.data.messagesSent }),
        el('td', { text: time(t.updatedAt) })))));
  }

  if (document.body.dataset.page === 'ui') start();
})();
