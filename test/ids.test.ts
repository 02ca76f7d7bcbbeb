import { describe, expect, it } from 'vitest';
import { randomId, timeOrderedId } from '@central-logger/http';

describe('randomId', () => {
  it('is the prefix and 32 hex digits, never repeated, also across refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => randomId('evt'));
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('timeOrderedId', () => {
  it('is the prefix, the time in ms (12 hex digits) and 80 random bits: unique, and later ids sort later', () => {
    const at = Date.parse('2026-12-02T06:00:00Z');
    const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedId('evt', at + Math.floor(i / 10)));
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(ids[0]!.slice(4, 16)).toBe(at.toString(16).padStart(12, '0'));
    expect(new Set(ids).size).toBe(ids.length);
    // ids of different milliseconds sort by time, whatever their random part
    for (let i = 10; i < ids.length; i += 10) expect(ids[i - 1]! < ids[i]!).toBe(true);
  });
});
