// docker-compose.yml as `docker compose up` reads it: every setting a production
// start requires reaches the app that requires it, from the environment (or the
// .env beside the file), never a value written in the file; a missing one stops
// compose before anything starts, naming it. (No Docker engine runs here: the
// file's own interpolation is applied as compose applies it.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  adminSchema,
  APP_HEAP_OPTION,
  appNodeOptions,
  cliSchema,
  ingestSchema,
  loadConfig,
  PRODUCTION_SECRETS,
  requireProductionSecrets,
  workerSchema,
} from '@central-logger/config';
import { keyLookupSecret } from '@central-logger/keys';
import { tenantTokenSecret } from '@central-logger/tenant-auth';

interface Service {
  command?: string[];
  environment?: Record<string, string | number | boolean>;
}
const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };

/** Compose's interpolation of `${NAME}`, `${NAME:-default}` and `${NAME:?message}` (the forms the file uses). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (op === ':-') return arg ?? '';
    if (op === ':?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return '';
  });
}

function environmentOf(service: string, env: Record<string, string>): Record<string, string> {
  const raw = compose.services[service]?.environment ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), env)]));
}

/** What a user puts in the .env beside the file, as its header shows: random values. */
const USER_ENV: Record<string, string> = {
  CURSOR_SECRET: 'c'.repeat(64),
  KEY_LOOKUP_SECRET: 'k'.repeat(64),
  TENANT_TOKEN_SECRET: 't'.repeat(64),
  READER_PASSWORD: 'reader-pw-0123',
  INGEST_DB_PASSWORD: 'ingest-pw-0123',
  WORKER_DB_PASSWORD: 'worker-pw-0123',
  ADMIN_DB_PASSWORD: 'admin-pw-01234',
};

const APPS = {
  'ingest-api': { schema: ingestSchema, urls: { INGEST_DATABASE_URL: 'INGEST_DB_PASSWORD', READ_DATABASE_URL: 'READER_PASSWORD' } },
  worker: { schema: workerSchema, urls: { WORKER_DATABASE_URL: 'WORKER_DB_PASSWORD' } },
  admin: { schema: adminSchema, urls: { ADMIN_DATABASE_URL: 'ADMIN_DB_PASSWORD' } },
} as const;

describe('docker-compose.yml', () => {
  it.each(Object.keys(APPS) as Array<keyof typeof APPS>)('%s gets a production config that starts: its secrets and its own database role', (name) => {
    const app = APPS[name];
    // the image sets NODE_ENV=production too (Dockerfile); the file says so itself
    const env = environmentOf(name, USER_ENV);
    expect(env.NODE_ENV).toBe('production');
    const config = loadConfig(app.schema, env);
    expect(() => requireProductionSecrets(config, PRODUCTION_SECRETS[name])).not.toThrow();
    for (const secret of PRODUCTION_SECRETS[name]) expect(env[secret], secret).toBe(USER_ENV[secret]);
    if (name !== 'worker') expect(keyLookupSecret(config as { NODE_ENV: 'production'; KEY_LOOKUP_SECRET?: string })).toBe(USER_ENV.KEY_LOOKUP_SECRET);
    if (name === 'ingest-api') expect(tenantTokenSecret(config as { NODE_ENV: string; TENANT_TOKEN_SECRET?: string })).toBe(USER_ENV.TENANT_TOKEN_SECRET);
    // each app connects as its own role, with the password migrate gives that role
    const migrate = environmentOf('migrate', USER_ENV);
    for (const [urlName, passwordName] of Object.entries(app.urls)) {
      const url = new URL(env[urlName]!);
      expect(decodeURIComponent(url.password), urlName).toBe(USER_ENV[passwordName]);
      expect(migrate[passwordName], passwordName).toBe(USER_ENV[passwordName]);
    }
  });

  it('a secret left unset stops compose, naming it; none is written in the file', () => {
    const secretNames = new Set<string>(Object.values(PRODUCTION_SECRETS).flat());
    for (const [app, secrets] of Object.entries(PRODUCTION_SECRETS)) {
      for (const secret of secrets) {
        const { [secret]: _left, ...without } = USER_ENV;
        expect(() => environmentOf(app, without), `${app} without ${secret}`).toThrow(`required variable ${secret} is missing a value`);
      }
    }
    // wherever a secret is set, it is taken from the environment, with no default to fall back on
    for (const [name, service] of Object.entries(compose.services))
      for (const [k, v] of Object.entries(service.environment ?? {}))
        if (secretNames.has(k)) expect(String(v), `${name}: ${k}`).toMatch(new RegExp(`^\\$\\{${k}:\\?[^}]+\\}$`));
    for (const password of ['READER_PASSWORD', 'INGEST_DB_PASSWORD', 'WORKER_DB_PASSWORD', 'ADMIN_DB_PASSWORD']) {
      const { [password]: _left, ...without } = USER_ENV;
      expect(() => environmentOf('migrate', without)).toThrow(`required variable ${password} is missing a value`);
    }
  });

  it('the CLI, run in the admin container, can import legacy keys (KEY_LOOKUP_SECRET) and reaches the database as admin', () => {
    const env = environmentOf('admin', USER_ENV);
    const config = loadConfig(cliSchema, env);
    expect(keyLookupSecret(config)).toBe(USER_ENV.KEY_LOOKUP_SECRET);
    expect(new URL(config.ADMIN_DATABASE_URL!).username).toBe('central_logger_admin');
  });

  it('migrate connects as the owner, and the apps wait for it', () => {
    expect(compose.services.migrate?.command).toEqual(['node', 'apps/admin/dist/cli/main.js', 'migrate']);
    expect(new URL(environmentOf('migrate', USER_ENV).DATABASE_URL!).username).toBe('postgres');
    for (const name of Object.keys(APPS)) {
      const dependsOn = (compose.services[name] as { depends_on?: Record<string, { condition: string }> }).depends_on;
      expect(dependsOn?.migrate?.condition, name).toBe('service_completed_successfully');
    }
  });

  it("every app runs with the image's heap cap, which is the one npm start and the benches add (APP_HEAP_OPTION)", () => {
    // the final stage's ENV (the stages before it build, they don't run the apps)
    const finalStage = readFileSync('Dockerfile', 'utf8')
      .split(/^FROM /m)
      .at(-1)!;
    const env = /^ENV (.+)$/m.exec(finalStage)?.[1] ?? '';
    expect(env.split(/\s+/)).toContain(`NODE_OPTIONS=${APP_HEAP_OPTION}`);
    for (const name of Object.keys(APPS)) expect(environmentOf(name, USER_ENV).NODE_OPTIONS, name).toBeUndefined();
  });
});

describe('appNodeOptions', () => {
  it("adds the heap cap to the operator's NODE_OPTIONS, and leaves a heap size they chose alone", () => {
    expect(appNodeOptions(undefined)).toBe('--max-old-space-size=1024');
    expect(appNodeOptions('  ')).toBe('--max-old-space-size=1024');
    expect(appNodeOptions('--enable-source-maps')).toBe('--enable-source-maps --max-old-space-size=1024');
    expect(appNodeOptions('--max-old-space-size=2048')).toBe('--max-old-space-size=2048');
  });
});
