import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { keyImportSchema, loadConfig } from '@central-logger/config';
import { importKeys, isLegacyKeyPrefix, keyLookupSecret, parseApiKeysMap, type ImportResult } from '@central-logger/keys';
import { recordAudit } from '../../store/audit.js';
import { CliError } from '../errors.js';
import type { CliContext, Run } from '../context.js';
import { table } from '../table.js';

/** `api-key import --from-env [--file .env] [--role agent]`: the development keys of the first `.env` format (an API_KEYS map), kept working. */
export function registerApiKeyImport(apiKey: Command, run: Run): void {
  apiKey
    .command('import')
    .description('import API_KEYS={"<key>": "<client_id>", ...} from the environment or a .env file; creates missing clients')
    .requiredOption('--from-env', 'read API_KEYS from the environment, else from the .env file')
    .option('--file <path>', 'the .env file to read when API_KEYS is not in the environment', '.env')
    .option('--role <role>', 'role of the imported keys: agent, reader or owner', 'agent')
    .action((opts: { file: string; role: string }) =>
      run(
        async (ctx) => {
          if (!['agent', 'reader', 'owner'].includes(opts.role)) throw new CliError(`Imported keys belong to a client: use --role agent, reader or owner`);
          const { json, source } = apiKeysSource(opts.file);
          // the servers must compute the same lookup ids: production refuses to run without the shared secret
          const lookupSecret = keyLookupSecret(ctx.config, (message) => process.stderr.write(`⚠️  ${message}\n`));
          const results = await importKeys(ctx.sql, parseApiKeysMap(json), { role: opts.role as 'agent', bcryptCost: ctx.config.BCRYPT_COST, lookupSecret });
          const imported = results.filter((r) => r.outcome === 'imported');
          if (imported.length > 0) {
            // one entry per run: the prefixes imported (never a key) and the clients it created
            await recordAudit(ctx.sql, {
              actor: ctx.actor,
              action: 'key.import',
              target: null,
              details: {
                source,
                role: opts.role,
                prefixes: imported.map((r) => r.prefix),
                clients_created: results.filter((r) => r.clientCreated).map((r) => r.clientId),
              },
              ip: null,
            });
          }
          report(ctx, results, source);
        },
        { writes: true },
      ),
    );
}

function apiKeysSource(envFile: string): { json: string; source: string } {
  const fromEnv = loadConfig(keyImportSchema).API_KEYS;
  if (fromEnv !== undefined) return { json: fromEnv, source: 'the environment' };
  if (!existsSync(envFile)) throw new CliError(`API_KEYS is not set and there is no ${envFile}`);
  const json = readEnvValue(readFileSync(envFile, 'utf8'), 'API_KEYS');
  if (json === undefined) throw new CliError(`API_KEYS is not set, nor in ${envFile}`);
  return { json, source: envFile };
}

/**
 * The value of `name` in .env text. Seed 001 writes the map over several
 * lines without quotes (`API_KEYS={` … `}`), which common .env parsers cut
 * at the first line; an unquoted `{` therefore reads on until its braces
 * balance. Quoted values may span lines too.
 */
export function readEnvValue(text: string, name: string): string | undefined {
  const m = new RegExp(`^(?:export\\s+)?${name}\\s*=\\s*`, 'm').exec(text);
  if (!m) return undefined;
  const rest = text.slice(m.index + m[0].length);
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const end = rest.indexOf(quote, 1);
    return end < 0 ? undefined : rest.slice(1, end);
  }
  if (rest[0] !== '{') return rest.split('\n')[0]!.trim();
  let depth = 0;
  let inString = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return rest.slice(0, i + 1);
  }
  return undefined;
}

function report(ctx: CliContext, results: ImportResult[], source: string): void {
  const count = (o: ImportResult['outcome']) => results.filter((r) => r.outcome === o).length;
  ctx.out(
    table(
      ['ENTRY', 'CLIENT', 'PREFIX', 'RESULT', 'CLIENT CREATED'],
      results.map((r) => [String(r.entry), r.clientId, r.prefix ?? '-', r.outcome.replace('_', ' '), r.clientCreated ? 'yes' : 'no']),
    ),
  );
  ctx.out();
  ctx.out(`✓ ${count('imported')} imported, ${count('already_present')} already present, from ${source}`);
  const legacy = results.filter((r) => r.outcome === 'imported' && r.prefix && isLegacyKeyPrefix(r.prefix)).length;
  if (legacy > 0)
    ctx.out(
      `⚠️  ${legacy} legacy key${legacy === 1 ? ' has' : 's have'} no public id and may be weak: each is due for rotation now (central-logger api-key rotate <prefix>)`,
    );
  const bad = count('invalid_key') + count('invalid_client');
  if (bad > 0) {
    process.exitCode = 1;
    ctx.out(
      `✗ ${bad} entr${bad === 1 ? 'y' : 'ies'} skipped: keys must be 8-256 printable characters without spaces (or a valid clk_ key); client ids 1-63 of letters, digits, _ - .`,
    );
  }
}
