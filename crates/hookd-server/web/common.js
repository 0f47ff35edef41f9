// hookd's pages: what the portal and the dashboard share.
//
// - el(): builds elements. Text only ever goes in as text (textContent), never as HTML, so
//   a payload, header or response body can hold `<script>` and still shows as text.
// - client(): calls hookd's API, with an app-portal token (the portal) or the dashboard's
//   session cookie and CSRF header; a refusal becomes an ApiError with the API's code.
// - the hash router, formatting, and small widgets (pager, two-step confirm, notices).
'use strict';

const H = (() => {
  /** el('a', {href: '#/x', class: 'c', onclick: f}, 'text', child, ...) */
  function el(tag, props, ...kids) {
    const svg = tag.startsWith('svg:');
    const node = svg
      ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'value' && !svg) node.value = v;
      else if (k === 'checked' && !svg) node.checked = !!v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    add(node, kids);
    return node;
  }

  function add(node, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
  }

  /** Replaces the children of `node`. */
  function put(node, ...kids) {
    node.replaceChildren();
    add(node, kids);
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail || code || ('HTTP ' + status));
      this.status = status;
      this.code = code;
    }
  }

  /** The API's error body as one line: `detail`, or each validation item's place and message. */
  function describe(status, body) {
    if (!body) return 'HTTP ' + status;
    if (Array.isArray(body.detail)) {
      return body.detail
        .map((d) => (Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') + ': ' : '') + d.msg)
        .join('; ');
    }
    return body.detail || body.code || 'HTTP ' + status;
  }

  /**
   * A client of the API. `auth` is {token} (a bearer token; no cookie is sent) or {csrf}
   * (the dashboard: its cookie is sent, with the CSRF header).
   */
  function client(auth) {
    async function call(method, path, body, query) {
      const headers = { accept: 'application/json' };
      if (auth.token) headers.authorization = 'Bearer ' + auth.token;
      if (auth.csrf) headers['x-hookd-csrf'] = auth.csrf;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(path + qs(query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: auth.token ? 'omit' : 'same-origin',
        cache: 'no-store',
      });
      const text = await res.text();
      let data = null;
      if (text) {
        try { data = JSON.parse(text); } catch { data = text; }
      }
      if (!res.ok) {
        const parsed = data && typeof data === 'object' ? data : null;
        const err = new ApiError(res.status, parsed && parsed.code, describe(res.status, parsed));
        if (client.onRefused && (res.status === 401)) client.onRefused(err);
        throw err;
      }
      return data;
    }
    return {
      get: (path, query) => call('GET', path, undefined, query),
      text: async (path) => {
        const headers = auth.csrf ? { 'x-hookd-csrf': auth.csrf } : { authorization: 'Bearer ' + auth.token };
        const res = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
        if (!res.ok) throw new ApiError(res.status, null, 'HTTP ' + res.status);
        return res.text();
      },
      post: (path, body, query) => call('POST', path, body === undefined ? {} : body, query),
      put: (path, body) => call('PUT', path, body),
      patch: (path, body) => call('PATCH', path, body),
      del: (path) => call('DELETE', path),
    };
  }

  /** `?a=1&b=2` of the set values of `query`. */
  function qs(query) {
    if (!query) return '';
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    }
    const s = p.toString();
    return s ? '?' + s : '';
  }

  /** The current route: `#/a/b?x=1` → {parts: ['a', 'b'], query: {x: '1'}}. */
  function route() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [path, search] = hash.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { parts, query: Object.fromEntries(new URLSearchParams(search || '')) };
  }

  /** `#/a/b?x=1` from parts and a query. */
  function link(parts, query) {
    return '#/' + parts.map(encodeURIComponent).join('/') + qs(query);
  }

  function time(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  /** A value for an `<input type=datetime-local>` of an ISO time, and back. */
  function toLocalInput(date) {
    const pad = (n) => String(n).padStart(2, '0');
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
      'T' + pad(date.getHours()) + ':' + pad(date.getMinutes());
  }
  function fromLocalInput(value) {
    if (!value) return undefined;
    const d = new Date(value);
    return isNaN(d) ? undefined : d.toISOString();
  }

  function pretty(value) {
    if (typeof value === 'string') {
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
    }
    return JSON.stringify(value, null, 2);
  }

  const STATUS = { 0: 'success', 1: 'pending', 2: 'fail', 3: 'sending' };
  function badge(status) {
    const text = typeof status === 'number' ? STATUS[status] || String(status) : status;
    return el('span', { class: 'badge ' + text, text });
  }

  function notice(kind, text) {
    return el('p', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status', text });
  }

  /** A button that asks once more before it does `action`. */
  function confirmButton(label, confirmLabel, action, cls) {
    let armed = false;
    const b = el('button', {
      type: 'button',
      class: cls || 'danger',
      text: label,
      onclick: async () => {
        if (!armed) {
          armed = true;
          b.textContent = confirmLabel;
          setTimeout(() => { armed = false; b.textContent = label; }, 5000);
          return;
        }
        b.disabled = true;
        try { await action(); } finally { b.disabled = false; }
      },
    });
    return b;
  }

  /** Runs `action` when the button is pressed, showing its error (or `done`) in `out`. */
  function actionButton(label, out, action, cls) {
    const b = el('button', {
      type: 'button',
      class: cls,
      text: label,
      onclick: async () => {
        b.disabled = true;
        try {
          await action();
        } catch (e) {
          put(out, notice('error', e.message));
        } finally {
          b.disabled = false;
        }
      },
    });
    return b;
  }

  /**
   * A cursor-paged list: `load(iterator)` returns a ListResponse; `render(items)` its rows.
   * "Newer" goes back through the iterators seen, so no page is ever found by offset.
   */
  function pagedList(container, load, render) {
    const seen = [];
    let current = null;
    async function show(iterator) {
      put(container, el('p', { class: 'muted', text: 'Loading…' }));
      let page;
      try {
        page = await load(iterator);
      } catch (e) {
        put(container, notice('error', e.message));
        return;
      }
      current = iterator;
      const pager = el('div', { class: 'pager' },
        el('button', {
          type: 'button', text: '← Newer', disabled: seen.length === 0,
          onclick: () => show(seen.pop()),
        }),
        el('button', {
          type: 'button', text: 'Older →', disabled: page.done || !page.iterator,
          onclick: () => { seen.push(current); show(page.iterator); },
        }));
      put(container, page.data.length ? render(page.data) : el('p', { class: 'muted', text: 'Nothing here yet.' }), pager);
    }
    show(null);
    return { reload: () => show(current) };
  }

  function table(headings, rows) {
    return el('table', {},
      el('thead', {}, el('tr', {}, headings.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows));
  }

  /** Fields of a form by name (checkboxes as booleans). */
  function fields(form) {
    const out = {};
    for (const input of form.elements) {
      if (!input.name) continue;
      out[input.name] = input.type === 'checkbox' ? input.checked : input.value;
    }
    return out;
  }

  /** "Name: value" lines to an object, and back. */
  function parseHeaderLines(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) throw new Error('each header line is "Name: value": ' + line.trim());
      out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    return out;
  }
  function headerLines(headers) {
    return Object.entries(headers || {}).map(([k, v]) => k + ': ' + v).join('\n');
  }

  return {
    el, put, client, ApiError, route, link, qs, time, toLocalInput, fromLocalInput, pretty,
    badge, notice, confirmButton, actionButton, pagedList, table, fields, parseHeaderLines,
    headerLines,
  };
})();
