// The admin dashboard: plain browser JavaScript, no build step.
// Every value from the API is rendered with textContent, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGES = ['clients', 'keys', 'usage', 'alerts', 'audit'];
let auditCursor = null;

/** Calls the admin API with the session cookie; a 401 sends the user to the sign-in form. */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') {
    // the API refuses state changes that are not JSON (part of its CSRF defence)
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(`/admin/api/${path}`, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && path !== 'login') {
    showSignIn();
    throw new Error('Please sign in');
  }
  if (!res.ok) throw new Error(data?.message ?? `Request failed (${res.status})`);
  return data;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell ?? '-';
    tr.append(td);
  }
  return tr;
}

function when(iso) {
  return iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC') : '-';
}

function flash(message, isError = false) {
  const f = $('flash');
  f.textContent = message;
  f.className = isError ? 'error' : '';
  f.hidden = false;
}

/** A button that acts only on a second click within 4 s, instead of a confirm() dialog. */
function twoStepButton(label, confirmLabel, action) {
  const b = el('button', label, 'danger');
  b.type = 'button';
  let armed = false;
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add('confirm');
      setTimeout(() => {
        armed = false;
        b.textContent = label;
        b.classList.remove('confirm');
      }, 4000);
      return;
    }
    b.disabled = true;
    await action().catch((err) => flash(err.message, true));
  });
  return b;
}

// --- sign-in -----------------------------------------------------------------

function showSignIn() {
  $('nav').hidden = true;
  for (const p of PAGES) $(p).hidden = true;
  $('signin').hidden = false;
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  $('signin-error').textContent = '';
  try {
    await api('POST', 'login', { username: form.username.value, password: form.password.value });
    form.password.value = '';
    await start();
  } catch (err) {
    $('signin-error').textContent = err.message;
  }
});

$('signout').addEventListener('click', async () => {
  forgetNewKey();
  await api('POST', 'logout').catch(() => {});
  showSignIn();
});

// --- clients -----------------------------------------------------------------

async function loadClients() {
  const { data } = await api('GET', 'clients');
  $('client-rows').replaceChildren(
    ...data.map((c) =>
      row([
        c.id,
        c.name,
        el('span', c.status, `status-${c.status}`),
        when(c.created_at),
        when(c.last_heartbeat_at),
        `${c.keys.active} / ${c.keys.total}`,
        `${c.events_last_24h.capped ? '≥ ' : ''}${c.events_last_24h.count}`,
        c.status === 'active'
          ? twoStepButton('Deactivate', 'Confirm deactivate?', () => setClientStatus(c.id, 'deactivate'))
          : twoStepButton('Activate', 'Confirm activate?', () => setClientStatus(c.id, 'activate')),
      ]),
    ),
  );
  fillClientSelects(data);
}

function fillClientSelects(clients) {
  const active = clients.filter((c) => c.status === 'active');
  const keyClient = $('key-client');
  keyClient.replaceChildren(el('option', '(none: admin keys only)'), ...active.map((c) => Object.assign(el('option', c.id), { value: c.id })));
  keyClient.firstChild.value = '';
  if (active.length) keyClient.value = active[active.length - 1].id;
  const filter = $('key-filter');
  const chosen = filter.value;
  filter.replaceChildren(Object.assign(el('option', 'every client'), { value: '' }), ...clients.map((c) => Object.assign(el('option', c.id), { value: c.id })));
  filter.value = chosen;
}

async function setClientStatus(id, change) {
  await api('POST', `clients/${encodeURIComponent(id)}/${change}`);
  flash(change === 'activate' ? `Client ${id} activated; its keys work again within a second.` : `Client ${id} deactivated; its keys stop working within a second.`);
  await loadClients();
}

$('client-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { id: form.id.value.trim() };
  if (form.name.value.trim()) body.name = form.name.value.trim();
  try {
    const c = await api('POST', 'clients', body);
    form.reset();
    flash(`Client ${c.id} created.`);
    await loadClients();
  } catch (err) {
    flash(err.message, true);
  }
});

// --- keys --------------------------------------------------------------------

async function loadKeys() {
  const client = $('key-filter').value;
  const { data } = await api('GET', client ? `keys?client=${encodeURIComponent(client)}` : 'keys');
  $('key-rows').replaceChildren(
    ...data.map((k) =>
      row([
        el('code', k.prefix),
        k.name,
        k.role,
        k.client_id,
        keyStatusCell(k),
        when(k.created_at),
        when(k.last_used_at),
        k.last_used_ip,
        k.expires_at ? when(k.expires_at) : 'never',
        k.status === 'active' ? twoStepButton('Revoke', 'Confirm revoke?', () => revokeKey(k)) : '',
      ]),
    ),
  );
}

// a legacy key (imported from a .env, no public id, possibly weak) is due for rotation at once
function keyStatusCell(k) {
  const status = el('span', k.status, `status-${k.status}`);
  if (!k.rotation_due) return status;
  const cell = el('span');
  const badge = el('span', 'rotate now', 'rotation-due');
  badge.title = 'Legacy key: no public id and possibly weak. Rotate it (central-logger api-key rotate <prefix>).';
  cell.append(status, ' ', badge);
  return cell;
}

async function revokeKey(k) {
  await api('DELETE', `keys/${encodeURIComponent(k.id)}`);
  flash(`Key ${k.prefix} revoked; it stops working within a second.`);
  await loadKeys();
}

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { name: form.name.value.trim(), role: form.role.value };
  if (form.role.value !== 'admin' && form.client_id.value) body.client_id = form.client_id.value;
  if (form.expires_in.value) body.expires_in = form.expires_in.value;
  try {
    const created = await api('POST', 'keys', body);
    // the secret lives only in this element until it is dismissed or the page reloads
    $('new-key-name').textContent = `${created.name} (${created.prefix})`;
    $('new-key-secret').textContent = created.key;
    $('new-key').hidden = false;
    form.name.value = '';
    await loadKeys();
  } catch (err) {
    flash(err.message, true);
  }
});

$('copy-key').addEventListener('click', async () => {
  const secret = $('new-key-secret').textContent;
  try {
    await navigator.clipboard.writeText(secret);
  } catch {
    // no clipboard permission: select the text so Ctrl+C copies it
    getSelection().selectAllChildren($('new-key-secret'));
    document.execCommand('copy');
  }
  $('copy-key').textContent = 'Copied';
});

function forgetNewKey() {
  $('new-key-secret').textContent = '';
  $('new-key').hidden = true;
  $('copy-key').textContent = 'Copy';
}

$('dismiss-key').addEventListener('click', forgetNewKey);

$('key-filter').addEventListener('change', () => loadKeys().catch((err) => flash(err.message, true)));

// --- audit -------------------------------------------------------------------

async function loadAudit(more = false) {
  const query = more && auditCursor ? `audit?limit=50&cursor=${encodeURIComponent(auditCursor)}` : 'audit?limit=50';
  const { data, next_cursor } = await api('GET', query);
  const rows = data.map((a) => row([when(a.at), a.actor, a.action, a.target, a.ip, el('span', JSON.stringify(a.details))]));
  for (const r of rows) r.lastChild.className = 'details';
  if (more) $('audit-rows').append(...rows);
  else $('audit-rows').replaceChildren(...rows);
  auditCursor = next_cursor;
  $('audit-more').hidden = !next_cursor;
}

$('audit-more').addEventListener('click', () => loadAudit(true).catch((err) => flash(err.message, true)));

// --- navigation --------------------------------------------------------------

// usage and alerts live in insights.js, which loads after this file
const LOADERS = { clients: loadClients, keys: () => Promise.all([loadClients(), loadKeys()]), usage: () => loadUsage(), alerts: () => loadAlerts(), audit: () => loadAudit() };

async function showPage() {
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'clients';
  $('flash').hidden = true;
  forgetNewKey(); // leaving the page forgets a shown secret, as a reload does
  for (const p of PAGES) $(p).hidden = p !== page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.getAttribute('href') === `#${page}`);
  await LOADERS[page]().catch((err) => flash(err.message, true));
}

async function start() {
  let me;
  try {
    me = await api('GET', 'session');
  } catch {
    return; // api() has shown the sign-in form
  }
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('whoami').textContent = `signed in as ${me.actor}`;
  await showPage();
}

window.addEventListener('hashchange', () => showPage());
start();
