import { useState } from 'preact/hooks';
import { useManagedList } from './actions.js';
import { api } from './api.js';
import { Secret } from './secret.js';
import { fmtTime } from './histogram.js';

interface User {
  id: string;
  username: string;
  role: string;
  is_active: boolean;
  last_login_at: string | null;
  created_at: string;
}
interface Invite {
  id: string;
  username: string;
  role: string;
  expires_at: string;
  accepted_at: string | null;
}

/** Users (owners): list, invite (a one-time link), change role, deactivate (two clicks). */
export function Users(props: { self?: string }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [invites, setInvites] = useState<Invite[]>([]);
  const [link, setLink] = useState<{ label: string; url: string } | null>(null);
  const { error, armed, act, armOrAct } = useManagedList(() =>
    Promise.all([api<{ data: User[] }>('GET', '/api/v1/users'), api<{ data: Invite[] }>('GET', '/api/v1/auth/invites')]).then(([u, i]) => {
      setUsers(u.data);
      setInvites(i.data.filter((x) => !x.accepted_at && Date.parse(x.expires_at) > Date.now()));
    }),
  );

  const invite = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    return act(async () => {
      const r = await api<{ username: string; role: string; token: string }>('POST', '/api/v1/auth/invites', {
        username: String(f.get('username') ?? ''),
        role: String(f.get('role')),
      });
      setLink({ label: `Invitation for ${r.username} (${r.role}), valid 24 h, once`, url: `${location.origin}/accept#token=${encodeURIComponent(r.token)}` });
      form.reset();
    });
  };
  const setRole = (u: User, role: string) => act(async () => void (await api('PATCH', `/api/v1/users/${encodeURIComponent(u.id)}`, { role })));
  const deactivate = (u: User) => armOrAct(u.id, async () => void (await api('DELETE', `/api/v1/users/${encodeURIComponent(u.id)}`)));

  return (
    <section class="page" id="users">
      <h1>Users</h1>
      {link && <Secret label={link.label} value={link.url} onDone={() => setLink(null)} />}
      <form class="card inline-form" id="invite-form" onSubmit={invite}>
        <label>
          Username
          <input name="username" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}" />
        </label>
        <label>
          Role
          <select name="role">
            <option value="reader">reader</option>
            <option value="owner">owner</option>
          </select>
        </label>
        <button type="submit" class="primary">
          Invite
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {users === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="table-wrap">
          <table id="user-rows" class="cards">
            <thead>
              <tr>
                <th>Username</th>
                <th>Role</th>
                <th>Status</th>
                <th>Last sign-in</th>
                <th>
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.length === 0 && (
                <tr>
                  <td colSpan={5} class="muted">
                    No users yet; invite one.
                  </td>
                </tr>
              )}
              {users.map((u) => (
                <tr key={u.id}>
                  <td class="clip" data-label="Username">
                    {u.username}
                  </td>
                  <td data-label="Role">
                    {u.is_active && u.id !== props.self ? (
                      <select aria-label={`Role of ${u.username}`} value={u.role} onChange={(e) => setRole(u, (e.target as HTMLSelectElement).value)}>
                        <option value="reader">reader</option>
                        <option value="owner">owner</option>
                      </select>
                    ) : (
                      u.role
                    )}
                  </td>
                  <td data-label="Status">
                    <span class={`badge ${u.is_active ? 'active' : 'revoked'}`}>{u.is_active ? 'active' : 'deactivated'}</span>
                  </td>
                  <td data-label="Last sign-in">{u.last_login_at ? fmtTime(u.last_login_at) : '—'}</td>
                  <td>
                    <div class="row-actions">
                      {u.is_active && u.id !== props.self && (
                        <button type="button" class={armed === u.id ? 'danger' : ''} onClick={() => deactivate(u)}>
                          {armed === u.id ? 'Confirm deactivate?' : 'Deactivate'}
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {invites.length > 0 && (
        <>
          <h2>Pending invitations</h2>
          <ul class="plain">
            {invites.map((i) => (
              <li key={i.id}>
                <span class="clip">{i.username}</span> · {i.role} · until {fmtTime(i.expires_at)}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
