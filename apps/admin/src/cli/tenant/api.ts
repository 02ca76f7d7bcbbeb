import { apiCliSchema, loadEnvConfig } from '@central-logger/config';
import { CliError } from '../errors.js';

/** The ingest API and the credential of a tenant's command. */
export interface ApiTarget {
  baseUrl: string;
  /** Sent as `Authorization: Bearer`: a reader or owner key, or a user's access token. */
  credential: string;
}

export interface ApiFlags {
  url?: string;
  apiKey?: string;
}

/** Flags first, then LOGGER_API_URL / LOGGER_API_KEY; a clear error naming what is missing. */
export async function apiTarget(flags: ApiFlags): Promise<ApiTarget> {
  const env = loadEnvConfig(apiCliSchema);
  const url = flags.url ?? env.LOGGER_API_URL;
  const credential = flags.apiKey ?? env.LOGGER_API_KEY;
  const missing = [!url && 'the API URL (--url or LOGGER_API_URL)', !credential && 'a reader or owner key (LOGGER_API_KEY, or --api-key)'].filter(Boolean);
  if (missing.length > 0) throw new CliError(`Set ${missing.join(' and ')}`);
  // loaded here, so that the commands that never call the API never load the SDK
  const { endpoints } = await import('@central-logger/client');
  let baseUrl: string;
  try {
    baseUrl = endpoints(url!).baseUrl;
  } catch {
    throw new CliError(`Not a URL: ${url}`);
  }
  return { baseUrl, credential: credential! };
}

/** GET `path` as JSON; an API error becomes a CliError with the API's own message. */
export async function getJson(target: ApiTarget, path: string, params: URLSearchParams): Promise<unknown> {
  const query = params.toString();
  const res = await fetch(`${target.baseUrl}${path}${query ? `?${query}` : ''}`, {
    headers: { authorization: `Bearer ${target.credential}`, accept: 'application/json' },
  }).catch((err: Error) => {
    throw new CliError(`Cannot reach ${target.baseUrl}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
  });
  const text = await res.text();
  const body = parseJson(text);
  if (!res.ok) throw apiError(res.status, body);
  return body;
}

/** The API's error body as one line: its message, and each detail. */
export function apiError(status: number, answer: unknown): CliError {
  const body = (answer ?? {}) as { message?: unknown; details?: unknown };
  const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
  const details = Array.isArray(body.details)
    ? body.details.map((d: { field?: string; message?: string }) => `${d.field ?? ''} ${d.message ?? ''}`.trim())
    : [];
  return new CliError(details.length > 0 ? `${message} (${details.join('; ')})` : message);
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
