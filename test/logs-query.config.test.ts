import { describe, expect, it } from 'vitest';
import { ConfigError, ingestSchema, loadConfig } from '@central-logger/config';
import { readerUrl } from '@central-logger/db';
import { startIngestApi } from '../apps/ingest-api/src/service.js';

describe('read-path configuration', () => {
  it("READ_DATABASE_URL defaults to DATABASE_URL as the reader role, without the owner's password", () => {
    expect(readerUrl('postgres://owner:s3cret@db.internal:5433/central_logger?sslmode=require')).toBe(
      'postgres://central_logger_reader@db.internal:5433/central_logger?sslmode=require',
    );
  });

  it('CURSOR_SECRET must be at least 32 characters', () => {
    expect(() => loadConfig(ingestSchema, { CURSOR_SECRET: 'short' })).toThrow(ConfigError);
  });

  it('ingest-api refuses to start in production without CURSOR_SECRET (cursors must verify on every process)', async () => {
    const config = loadConfig(ingestSchema, { NODE_ENV: 'production', LOG_LEVEL: 'silent', INGEST_PORT: '0' });
    await expect(startIngestApi(config)).rejects.toThrow(/CURSOR_SECRET/);
  });
});
