import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

export interface SqlOptions {
  /** Pool size. Default 10. */
  max?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

/** The one way to open a Postgres pool. */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
    // postgres.js throws on undefined values; a missing optional field is NULL
    transform: { undefined: null },
    connection: { application_name: options.applicationName ?? 'central-logger' },
  }) as unknown as Sql;
}
