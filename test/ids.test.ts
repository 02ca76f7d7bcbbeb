import { describe, expect, it } from 'vitest';
import { randomId } from '@central-logger/http';

describe('randomId', () => {
  it('is the prefix and 32 hex digits, never repeated, also across refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => randomId('evt'));
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
