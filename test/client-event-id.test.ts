import { describe, expect, it } from 'vitest';
import { createLogger, uuidv7 } from '@central-logger/client';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids the SDK makes', () => {
  it('are version 7 UUIDs: the time in ms leads, so ids of later milliseconds sort later, and none repeats', () => {
    const at = Date.parse('2026-12-02T07:00:00Z');
    const ids = Array.from({ length: 3000 }, (_, i) => uuidv7(at + Math.floor(i / 3)));
    for (const id of ids) expect(id).toMatch(V7);
    expect(ids[0]!.replace('-', '').slice(0, 12)).toBe(at.toString(16).padStart(12, '0'));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 3; i < ids.length; i += 3) expect(ids[i - 1]! < ids[i]!).toBe(true);
  });

  it('log() gives an event without an id a v7 UUID of now, and keeps an id of its own', async () => {
    const logger = createLogger({ url: 'http://127.0.0.1:9/api/v1/logs', apiKey: 'clk_test', flushOnExit: false, onError: () => {} });
    try {
      const before = Date.now();
      const id = logger.log({ environment: 'test', status: 'SUCCESS', message: 'hi' })!;
      expect(id).toMatch(V7);
      const ms = Number.parseInt(id.replace('-', '').slice(0, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(Date.now());
      expect(logger.log({ event_id: 'mine-1', environment: 'test', status: 'SUCCESS' })).toBe('mine-1');
    } finally {
      await logger.close(100);
    }
  });
});
