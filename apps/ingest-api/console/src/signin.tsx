import { useState } from 'preact/hooks';
import { api, errorText } from './api.js';

/** Sign in with a tenant user's name and password, or by pasting a reader or owner key; either way the server sets a session cookie. */
export function SignIn(props: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<'user' | 'key'>('user');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const body =
      mode === 'user'
        ? { username: String(form.get('username') ?? ''), password: String(form.get('password') ?? '') }
        : { api_key: String(form.get('api_key') ?? '').trim() };
    setBusy(true);
    setError('');
    try {
      await api('POST', '/api/v1/auth/session', body, { quiet401: true });
      (e.currentTarget as HTMLFormElement | null)?.reset();
      props.onSignedIn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>central-logger</h1>
      <p class="muted">Sign in to search your logs.</p>
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'user'} onClick={() => setMode('user')}>
          User
        </button>
        <button type="button" role="tab" aria-selected={mode === 'key'} onClick={() => setMode('key')}>
          API key
        </button>
      </div>
      <form id="signin-form" onSubmit={submit} class="card stack">
        {mode === 'user' ? (
          <>
            <label>
              Username
              <input name="username" autocomplete="username" required />
            </label>
            <label>
              Password
              <input name="password" type="password" autocomplete="current-password" required />
            </label>
          </>
        ) : (
          <label>
            Reader or owner API key
            <input name="api_key" type="password" autocomplete="off" spellcheck={false} required placeholder="clk_…" />
            <span class="muted small">The key is sent once to start a session; the page does not keep it.</span>
          </label>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="error" id="signin-error" role="alert">
          {error}
        </p>
      </form>
    </main>
  );
}

/** The one-time invitation link: the invited person sets a password; then they sign in. The token stays in the fragment (never sent in a URL to the server). */
export function AcceptInvite() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const password = String(form.get('password') ?? '');
    if (password !== String(form.get('confirm') ?? '')) return setError('The two passwords differ');
    try {
      const res = await api<{ user: { username: string } }>('POST', '/api/v1/auth/invites/accept', { token, password }, { quiet401: true });
      history.replaceState(null, '', '/accept');
      setDone(res.user.username);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <main class="signin">
      <h1>Join central-logger</h1>
      {done ? (
        <p class="card">
          You are <strong>{done}</strong>. <a href="/">Sign in</a>.
        </p>
      ) : !token ? (
        <p class="card error">This link has no invitation in it; ask for a new one.</p>
      ) : (
        <form class="card stack" onSubmit={submit}>
          <label>
            New password
            <input name="password" type="password" autocomplete="new-password" required minLength={12} />
          </label>
          <label>
            Again
            <input name="confirm" type="password" autocomplete="new-password" required />
          </label>
          <button type="submit" class="primary">
            Set password
          </button>
          <p class="error" role="alert">
            {error}
          </p>
        </form>
      )}
    </main>
  );
}
