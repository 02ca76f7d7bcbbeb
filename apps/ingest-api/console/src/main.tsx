import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, whenSignedOut, type Me } from './api.js';
import { navigate, useLocation, Link } from './router.js';
import { SignIn, AcceptInvite } from './signin.js';
import { Explore } from './explore.js';
import { Keys } from './keys.js';
import { Users } from './users.js';
import { Usage } from './usage.js';

function App() {
  const loc = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const refresh = () => api<Me>('GET', '/api/v1/auth/me', undefined, { quiet401: true }).then(setMe, () => setMe(null));
  useEffect(() => {
    whenSignedOut(() => setMe(null));
    void refresh();
  }, []);

  if (loc.path === '/accept') return <AcceptInvite />;
  if (me === undefined) return <p class="boot">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={refresh} />;
  const owner = me.role === 'owner';
  const signOut = async () => {
    await api('DELETE', '/api/v1/auth/session', undefined, { quiet401: true }).catch(() => {});
    setMe(null);
    navigate('/');
  };
  return (
    <div class="shell">
      <header class="top">
        <strong class="brand">central-logger</strong>
        <nav aria-label="Pages">
          <Link href="/" current={loc.path === '/'}>
            Explore
          </Link>
          {owner && (
            <Link href="/keys" current={loc.path === '/keys'}>
              Keys
            </Link>
          )}
          {owner && (
            <Link href="/users" current={loc.path === '/users'}>
              Users
            </Link>
          )}
          <Link href="/usage" current={loc.path === '/usage'}>
            Usage
          </Link>
        </nav>
        <span class="whoami" id="whoami">
          {me.user ? me.user.username : `key ${me.key?.prefix ?? ''}`} · {me.client_id} · {me.role}
        </span>
        <button type="button" class="link" id="sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>{page(loc.path, owner, me.user?.id)}</main>
    </div>
  );
}

function page(path: string, owner: boolean, self?: string) {
  if (path === '/usage') return <Usage />;
  if (path === '/keys' || path === '/users') {
    if (!owner)
      return (
        <section class="card" id="owners-only">
          <h1>Owners only</h1>
          <p>Only an owner manages the tenant's keys and users.</p>
        </section>
      );
    return path === '/keys' ? <Keys /> : <Users self={self} />;
  }
  return <Explore />;
}

const root = document.getElementById('app')!;
// the page's "Loading" text goes: Preact keeps what it did not render itself
root.textContent = '';
render(<App />, root);
