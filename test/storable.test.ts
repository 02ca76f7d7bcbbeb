import { describe, expect, it } from 'vitest';
import { checkShared, checkStorable } from '@central-logger/events';

describe('checkShared: a value many events hold by reference, checked once', () => {
  it("counts a checked value's size in each holder without walking it again, where as many levels are left", () => {
    const shared = { 'service.name': 'checkout', tags: ['a', 'b'] };
    const holder = (v: object) => ({ metadata: { resource: v } });
    const walked = checkStorable(holder({ ...shared, tags: [...shared.tags] }), 4);
    expect(checkShared(shared, 2).problem).toBeUndefined();
    expect(checkStorable(holder(shared), 4)).toEqual(walked);

    // not walked again: text put in after the check (which the contract forbids) goes unseen
    shared.tags.push('nul \u0000');
    expect(checkStorable(holder(shared), 4).problem).toBeUndefined();
    // where fewer levels are left than its check allowed: walked, and the text found
    const roomy = { tags: ['a'] };
    checkShared(roomy, 3);
    roomy.tags.push('nul \u0000');
    expect(checkStorable(holder(roomy), 4).problem).toMatchObject({ path: 'metadata.resource.tags.1', message: expect.stringMatching(/NUL/) });
  });

  it('remembers nothing for a value that fails: each holder finds and words the problem itself', () => {
    const shared = { key: 'lone \ud800' };
    expect(checkShared(shared, 2).problem).toMatchObject({ path: 'key' });
    expect(checkStorable({ metadata: { resource: shared } }, 4).problem).toMatchObject({
      path: 'metadata.resource.key',
      message: expect.stringMatching(/unpaired UTF-16 surrogate/),
    });
  });
});
