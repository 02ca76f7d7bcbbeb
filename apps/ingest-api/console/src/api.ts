/** A JSON API error: the service's `{error, message}` body and the status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

let onSignedOut: () => void = () => {};

/** Called when any request finds the session gone (401): the page goes back to its sign-in form. */
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

/**
 * One request to the ingest API on this origin. The session cookie rides
 * along (httpOnly: this script never sees it); no key or token is ever kept
 * by the page.
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown, options: { quiet401?: boolean } = {}): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => undefined);
  if (!res.ok) {
    if (res.status === 401 && !options.quiet401) onSignedOut();
    throw new ApiError(data?.message ?? `${res.status} ${res.statusText}`, res.status, data?.error);
  }
  return data as T;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Who is signed in (GET /api/v1/auth/me). */
export interface Me {
  via: string;
  client_id: string;
  role: 'owner' | 'reader' | 'agent';
  user?: { id: string; username: string };
  key?: { id: string; prefix: string };
  session?: { expires_at: string };
}
