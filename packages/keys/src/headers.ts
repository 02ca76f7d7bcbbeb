/**
 * The key a request carries: `X-API-Key: <key>`, `X-API-Key: ApiKey <key>`,
 * or `Authorization: Bearer <key>`. Undefined when none is sent.
 */
export function extractApiKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const x = first(headers['x-api-key']);
  if (x !== undefined) {
    const v = x
      .trim()
      .replace(/^ApiKey\s+/i, '')
      .trim();
    return v || undefined;
  }
  const auth = first(headers.authorization);
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1];
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
