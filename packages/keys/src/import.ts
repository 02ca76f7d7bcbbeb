import { CLIENT_ID_PATTERN, createClient, getClient, isUniqueViolation, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { KEY_PREFIX, legacyPrefix, parseKey, unkeyedLegacyPrefix } from './format.js';
import type { Role } from './roles.js';
import { getKey, storeKey } from './store.js';

/** What happened to one entry of `API_KEYS`; never the key itself. */
export interface ImportResult {
  /** 1-based position in the map, to point at an entry without showing it. */
  entry: number;
  clientId: string;
  prefix: string | null;
  outcome: 'imported' | 'already_present' | 'invalid_key' | 'invalid_client';
  clientCreated: boolean;
}

/**
 * Parses the first `.env` format's `API_KEYS={"<key>": "<client_id>", ...}`. Errors never
 * quote the value: it holds keys.
 */
export function parseApiKeysMap(json: string): Array<[string, string]> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new AppError('validation_failed', 'API_KEYS is not valid JSON: expected {"<key>": "<client_id>", ...}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('validation_failed', 'API_KEYS must be a JSON object {"<key>": "<client_id>", ...}');
  }
  return Object.entries(value).map(([key, clientId], i) => {
    if (typeof clientId !== 'string') throw new AppError('validation_failed', `API_KEYS entry ${i + 1}: the client id must be a string`);
    return [key, clientId];
  });
}

export interface ImportOptions {
  role: Exclude<Role, 'admin'>;
  bcryptCost: number;
  /** KEY_LOOKUP_SECRET (see keyLookupSecret): legacy keys are stored under an HMAC of the key with it. */
  lookupSecret: string;
}

/**
 * Stores development keys so that they keep working: bcrypt-hashed under
 * their own `clk_` prefix, or under `lgh_<HMAC head>` for keys of any other
 * shape (those are due for rotation at once: see KeyRecord.rotationDue);
 * clients that do not exist yet are created. Running it twice changes
 * nothing the second time, also for keys stored under the former `lgc_` id.
 */
export async function importKeys(sql: Sql, entries: Array<[string, string]>, options: ImportOptions): Promise<ImportResult[]> {
  const results: ImportResult[] = [];
  for (const [i, [key, clientId]] of entries.entries()) {
    const base = { entry: i + 1, clientId, clientCreated: false };
    const prefix = key.startsWith(KEY_PREFIX) ? (parseKey(key)?.prefix ?? null) : (legacyPrefix(key, options.lookupSecret) ?? null);
    if (!prefix) results.push({ ...base, prefix: null, outcome: 'invalid_key' });
    else if (!CLIENT_ID_PATTERN.test(clientId)) results.push({ ...base, prefix, outcome: 'invalid_client' });
    else results.push({ ...base, prefix, ...(await importOne(sql, key, prefix, clientId, options)) });
  }
  return results;
}

async function importOne(sql: Sql, key: string, prefix: string, clientId: string, options: ImportOptions) {
  const clientCreated = await ensureClient(sql, clientId);
  const former = unkeyedLegacyPrefix(key); // a row from before the keyed id: re-keyed on its next use
  if ((await getKey(sql, undefined, prefix)) || (former && (await getKey(sql, undefined, former))))
    return { outcome: 'already_present' as const, clientCreated };
  try {
    await storeKey(sql, key, prefix, { name: `imported ${prefix}`, role: options.role, clientId, bcryptCost: options.bcryptCost });
    return { outcome: 'imported' as const, clientCreated };
  } catch (err) {
    if (isUniqueViolation(err)) return { outcome: 'already_present' as const, clientCreated };
    throw err;
  }
}

async function ensureClient(sql: Sql, clientId: string): Promise<boolean> {
  if (await getClient(sql, clientId)) return false;
  try {
    await createClient(sql, clientId, clientId);
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}
