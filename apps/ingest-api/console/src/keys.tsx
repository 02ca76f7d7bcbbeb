import { useState } from 'preact/hooks';
import { useManagedList } from './actions.js';
import { api } from './api.js';
import { Secret } from './secret.js';
import { fmtTime } from './histogram.js';

interface Key {
  id: string;
  prefix: string;
  name: string;
  role: string;
  status: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  rotation_due?: boolean;
}

/** Keys (owners): list, create (the secret shown once), rotate with a grace period, revoke (two clicks). */
export function Keys() {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [secret, setSecret] = useState<{ key: string; what: string } | null>(null);
  // the usable keys against the client's cap (MAX_KEYS_PER_CLIENT), from the tenant's limits
  const [cap, setCap] = useState<{ used: number; max: number } | null>(null);
  const { error, armed, act, armOrAct } = useManagedList(() =>
    Promise.all([api<{ data: Key[] }>('GET', '/api/v1/keys'), api<{ limits: { keys: number }; usage: { keys: number | null } }>('GET', '/api/v1/limits')]).then(
      ([k, l]) => {
        setKeys(k.data);
        // null while the service cannot count them: no line rather than a wrong one
        setCap(l.usage.keys === null ? null : { used: l.usage.keys, max: l.limits.keys });
      },
    ),
  );

  const create = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const expires = String(f.get('expires_in') ?? '').trim();
    return act(async () => {
      const r = await api<{ key: string; role: string; name: string }>('POST', '/api/v1/keys', {
        name: String(f.get('name') ?? ''),
        role: String(f.get('role')),
        ...(expires ? { expires_in: expires } : {}),
      });
      setSecret({ key: r.key, what: `New ${r.role} key “${r.name}”` });
      form.reset();
    });
  };
  const rotate = (k: Key) =>
    act(async () => {
      const r = await api<{ key: string }>('POST', `/api/v1/keys/${encodeURIComponent(k.id)}/rotate`, { grace: '24h' });
      setSecret({ key: r.key, what: `Replacement for ${k.prefix} (the old key works 24 h more)` });
    });
  const revoke = (k: Key) => armOrAct(k.id, async () => void (await api('DELETE', `/api/v1/keys/${encodeURIComponent(k.id)}`)));

  return (
    <section class="page" id="keys">
      <h1>API keys</h1>
      {secret && <Secret label={secret.what} value={secret.key} onDone={() => setSecret(null)} />}
      <form class="card inline-form" id="key-form" onSubmit={create}>
        <label>
          Name
          <input name="name" required maxLength={100} placeholder="Production agent" />
        </label>
        <label>
          Role
          <select name="role">
            <option value="agent">agent (writes logs)</option>
            <option value="reader">reader (reads logs)</option>
            <option value="owner">owner (everything)</option>
          </select>
        </label>
        <label>
          Expires in
          <input name="expires_in" placeholder="90d (optional)" size={10} />
        </label>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {cap && (
        <p class="muted" id="key-cap">
          {cap.used} of {cap.max} usable keys (revoked and expired keys do not count)
        </p>
      )}
      {keys === null ? (
        <p class="muted">Loading…</p>
      ) : keys.length === 0 ? (
        <p class="empty card">No keys yet.</p>
      ) : (
        <div class="table-wrap">
          <table id="key-rows" class="cards">
            <thead>
              <tr>
                <th>Prefix</th>
                <th>Name</th>
                <th>Role</th>
                <th>Status</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Expires</th>
                <th>
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-prefix={k.prefix}>
                  <td data-label="Prefix">
                    <code>{k.prefix}</code>
                  </td>
                  <td class="clip" data-label="Name">
                    {k.name}
                  </td>
                  <td data-label="Role">{k.role}</td>
                  <td data-label="Status">
                    <span class={`badge ${k.status}`}>{k.status}</span>
                    {k.rotation_due && <span class="badge warn">rotate</span>}
                  </td>
                  <td data-label="Created">{fmtTime(k.created_at)}</td>
                  <td data-label="Last used">{k.last_used_at ? fmtTime(k.last_used_at) : '—'}</td>
                  <td data-label="Expires">{k.expires_at ? fmtTime(k.expires_at) : '—'}</td>
                  <td>
                    <div class="row-actions">
                      {k.status === 'active' && (
                        <>
                          <button type="button" onClick={() => rotate(k)}>
                            Rotate
                          </button>
                          <button type="button" class={armed === k.id ? 'danger' : ''} onClick={() => revoke(k)}>
                            {armed === k.id ? 'Confirm revoke?' : 'Revoke'}
                          </button>
                        </>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
