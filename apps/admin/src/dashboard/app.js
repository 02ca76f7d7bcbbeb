// The admin dashboard: plain browser JavaScript, no build step.
// Every value from the API is rendered with textContent, never as HTML.
// Pages register their loader in LOADERS; start.js, loaded last, starts the app.

const $ = (id) => document.getElementById(id);
const PAGES = ['clients', 'client', 'keys', 'usage', 'alerts', 'system', 'audit'];
/** page name → async (param) => void; filled by each page's file. */
const LOADERS = {};
let auditCursor = null;

/** Traffic is counted when it arrives; stored logs by when they say they ran. Shown wherever both kinds of figure appear. */
const COUNTING_RULE =
  'Requests, events accepted, bytes, rejections and failed authentications are counted by arrival at ingest (rolled up every minute). ' +
  'Error rates, top workflows and log searches count stored events by their executed_at (event time): late or back-dated events land in other hours.';

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

function link(text, href, className) {
  const a = el('a', text, className);
  a.href = href;
  return a;
}

/** A table row; a cell is text, a Node, or {value, className}. */
function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell);
    else if (cell && typeof cell === 'object') {
      if (cell.value instanceof Node) td.append(cell.value);
      else td.textContent = cell.value ?? '-';
      td.className = cell.className;
    } else if (typeof cell === 'string' && DATE_TIME.test(cell)) td.append(dateTime(cell));
    else td.textContent = cell ?? '-';
    tr.append(td);
  }
  return tr;
}

const DATE_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d UTC)$/;

/** A `when()` text that may break between the date and the time, never inside either. */
function dateTime(text) {
  const [, date, time] = DATE_TIME.exec(text);
  const t = el('time', undefined, 'when');
  t.append(el('span', date), ' ', el('span', time));
  return t;
}

/** A cell with a number, right-aligned. */
const num = (n) => ({ value: n === null || n === undefined ? '-' : fmt(n), className: 'num' });
const fmt = (n) => Number(n).toLocaleString('en-US');

function when(iso) {
  return iso
    ? new Date(iso)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC')
    : '-';
}

function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function flash(message, isError = false) {
  const f = $('flash');
  f.textContent = message;
  f.className = isError ? 'error' : '';
  f.hidden = false;
}

const clientHref = (id) => `#client/${encodeURIComponent(id)}`;

/**
 * A button that acts only on a second click, instead of a confirm() dialog.
 * It stays armed until it loses focus (or 30 s pass): a slow second click
 * still counts, a click elsewhere disarms it.
 */
function twoStepButton(label, confirmLabel, action) {
  const b = el('button', label, 'danger');
  b.type = 'button';
  let timer = null;
  const disarm = () => {
    clearTimeout(timer);
    timer = null;
    b.textContent = label;
    b.classList.remove('confirm');
  };
  b.addEventListener('blur', disarm);
  b.addEventListener('click', async () => {
    if (!timer) {
      b.textContent = confirmLabel;
      b.classList.add('confirm');
      timer = setTimeout(disarm, 30000);
      return;
    }
    disarm();
    b.disabled = true;
    await action().catch((err) => {
      b.disabled = false;
      flash(err.message, true);
    });
  });
  return b;
}

// --- sign-in -----------------------------------------------------------------

function showSignIn() {
  $('nav').hidden = true;
  for (const p of PAGES) $(p).hidden = true;
  forgetNewKey();
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
        { value: link(c.id, clientHref(c.id), 'id'), className: 'wrap' },
        { value: c.name, className: 'wrap' },
        el('span', c.status, `status-${c.status}`),
        when(c.created_at),
        when(c.last_heartbeat_at),
        { value: `${c.keys.active} / ${c.keys.total}`, className: 'num' },
        num(c.accepted_last_24h),
        c.status === 'active'
          ? twoStepButton('Deactivate', 'Confirm deactivate?', () => setClientStatus(c.id, 'deactivate', loadClients))
          : twoStepButton('Activate', 'Confirm activate?', () => setClientStatus(c.id, 'activate', loadClients)),
      ]),
    ),
  );
  $('clients-empty').hidden = data.length > 0;
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

async function setClientStatus(id, change, reload) {
  await api('POST', `clients/${encodeURIComponent(id)}/${change}`);
  flash(
    change === 'activate' ? `Client ${id} activated; its keys work again within a second.` : `Client ${id} deactivated; its keys stop working within a second.`,
  );
  await reload();
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
        { value: k.name, className: 'wrap' },
        k.role,
        { value: k.client_id ? link(k.client_id, clientHref(k.client_id), 'id') : '-', className: 'wrap' },
        keyStatusCell(k),
        when(k.created_at),
        when(k.last_used_at),
        k.last_used_ip,
        k.expires_at ? when(k.expires_at) : 'never',
        keyActions(k, loadKeys),
      ]),
    ),
  );
}

// a legacy key (imported from a .env, no public id, possibly weak) is due for rotation at once
function keyStatusCell(k) {
  const status = el('span', k.status, `status-${k.status}`);
  const cell = el('span');
  cell.append(status);
  if (k.rotation_due) {
    const badge = el('span', 'rotate now', 'rotation-due');
    badge.title = 'Legacy key: no public id and possibly weak. Rotate it.';
    cell.append(' ', badge);
  }
  if (k.replaced_by && k.status === 'active') cell.append(' ', el('span', 'rotated, in grace', 'muted'));
  return cell;
}

/** Rotate and revoke for a working key; nothing for a revoked or expired one. */
function keyActions(k, reload) {
  const box = el('span', undefined, 'actions');
  if (k.status !== 'active') return box;
  if (!k.replaced_by) box.append(twoStepButton('Rotate', 'Confirm rotate?', () => rotateKey(k, reload)));
  box.append(twoStepButton('Revoke', 'Confirm revoke?', () => revokeKey(k, reload)));
  return box;
}

async function revokeKey(k, reload) {
  await api('DELETE', `keys/${encodeURIComponent(k.id)}`);
  flash(`Key ${k.prefix} revoked; it stops working within a second.`);
  await reload();
}

async function rotateKey(k, reload) {
  const next = await api('POST', `keys/${encodeURIComponent(k.id)}/rotate`, { grace: '24h' });
  showNewKey(`“${next.name}” (${next.prefix}, replaces ${k.prefix}, which keeps working until ${when(next.previous.expires_at)})`, next.key);
  await reload();
}

/** The secret lives only in this element until it is dismissed, the page changes or the page reloads. */
function showNewKey(label, secret) {
  $('new-key-name').textContent = label;
  $('new-key-secret').textContent = secret;
  $('copy-key').textContent = 'Copy';
  $('new-key').hidden = false;
}

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { name: form.name.value.trim(), role: form.role.value };
  if (form.role.value !== 'admin' && form.client_id.value) body.client_id = form.client_id.value;
  if (form.expires_in.value) body.expires_in = form.expires_in.value;
  try {
    const created = await api('POST', 'keys', body);
    showNewKey(`“${created.name}” (${created.prefix})`, created.key);
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

/**
 * Long free text (a job's reason, a database error, an event id, an audit detail): at most three
 * lines, so a narrow column never makes a row a screen tall; a click or Enter shows it all.
 */
function clamped(text) {
  const span = el('span', text, 'clamp');
  span.title = text;
  span.tabIndex = 0;
  const toggle = () => span.classList.toggle('open');
  span.addEventListener('click', toggle);
  span.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') toggle();
  });
  return span;
}

/** An audit entry's details as `key: value` lines, long values wrapped, very long ones three lines until clicked. */
function detailsList(details) {
  const dl = el('dl', undefined, 'kv');
  for (const [k, v] of Object.entries(details ?? {})) {
    const text =
      v === null
        ? '-'
        : typeof v === 'object'
          ? Object.entries(v)
              .map(([a, b]) => `${a}: ${b === null ? '-' : typeof b === 'object' ? JSON.stringify(b) : b}`)
              .join(', ')
          : String(v);
    const dd = el('dd');
    dd.append(text.length > 120 ? clamped(text) : text);
    dl.append(el('dt', k), dd);
  }
  return dl;
}

async function loadAudit(more = false) {
  const query = more && auditCursor ? `audit?limit=50&cursor=${encodeURIComponent(auditCursor)}` : 'audit?limit=50';
  const { data, next_cursor } = await api('GET', query);
  const rows = data.map((a) =>
    row([
      when(a.at),
      { value: a.actor, className: 'wrap' },
      a.action,
      { value: a.target, className: 'wrap' },
      a.ip,
      { value: detailsList(a.details), className: 'details' },
    ]),
  );
  if (more) $('audit-rows').append(...rows);
  else $('audit-rows').replaceChildren(...rows);
  auditCursor = next_cursor;
  $('audit-more').hidden = !next_cursor;
}

$('audit-more').addEventListener('click', () => loadAudit(true).catch((err) => flash(err.message, true)));

// --- navigation --------------------------------------------------------------

Object.assign(LOADERS, { clients: loadClients, keys: () => Promise.all([loadClients(), loadKeys()]), audit: () => loadAudit() });

/** `#client/acme` → ['client', 'acme']; an unknown page is the client list. */
function route() {
  const [page, ...rest] = location.hash.slice(1).split('/');
  if (!PAGES.includes(page)) return ['clients', ''];
  return [page, decodeURIComponent(rest.join('/'))];
}

async function showPage() {
  const [page, param] = route();
  $('flash').hidden = true;
  forgetNewKey(); // leaving the page forgets a shown secret, as a reload does
  for (const p of PAGES) $(p).hidden = p !== page;
  const current = page === 'client' ? 'clients' : page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.getAttribute('href') === `#${current}`);
  for (const p of document.querySelectorAll('.counting-rule')) p.textContent = COUNTING_RULE;
  await Promise.resolve()
    .then(() => LOADERS[page](param))
    .catch((err) => flash(err.message, true));
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
  if (typeof refreshAlertCount === 'function') refreshAlertCount();
  await showPage();
}

window.addEventListener('hashchange', () => showPage());
