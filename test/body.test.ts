import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBody } from '@central-logger/http';

const LIMITS = { maxBytes: 1024, maxDecompressedBytes: 1024 };

function request(): PassThrough & { headers: Record<string, string> } {
  return Object.assign(new PassThrough(), { headers: {} });
}

describe('readBody (identity bodies)', () => {
  it("reads the body and leaves no listener behind, so the request's later close costs nothing", async () => {
    const req = request();
    const before = ['data', 'end', 'error', 'close'].map((e) => req.listenerCount(e));
    const body = readBody(req as unknown as IncomingMessage, false, LIMITS);
    req.end('{"a":1}');
    expect(await body).toBe('{"a":1}');
    expect(['data', 'end', 'error', 'close'].map((e) => req.listenerCount(e))).toEqual(before);
  });

  it('still fails when the client closes the request before its body ended', async () => {
    const req = request();
    const body = readBody(req as unknown as IncomingMessage, false, LIMITS);
    req.write('{"a":');
    req.destroy();
    await expect(body).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('refuses a body over the limit with 413 and stops listening', async () => {
    const req = request();
    const body = readBody(req as unknown as IncomingMessage, false, { maxBytes: 4, maxDecompressedBytes: 4 });
    req.write('{"a":1}');
    await expect(body).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(req.listenerCount('data')).toBe(0);
  });
});
