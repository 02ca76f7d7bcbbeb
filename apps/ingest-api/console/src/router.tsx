import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** The page's path and query; pages change with pushState, so a link or the back button lands on the same view. */
export interface Location {
  path: string;
  search: string;
}

const listeners = new Set<() => void>();
const current = (): Location => ({ path: location.pathname, search: location.search });

export function navigate(href: string, replace = false): void {
  if (href === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', href);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return loc;
}

export function Link(props: { href: string; current?: boolean; children: ComponentChildren }) {
  return (
    <a
      href={props.href}
      aria-current={props.current ? 'page' : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
