import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK_BYTES = 64 * 1024;

/**
 * The lines of `path` from its start, then as it grows, like `tail -F`:
 * when the file is replaced (rotation: a new inode at the path) the old one is
 * read to its end first and the new one from its start; when it shrinks
 * (truncation) reading starts over at 0. Polls every `pollMs` at the end of
 * the file; ends when `signal` aborts, with a last unterminated line, if any.
 */
export async function* followLines(path: string, signal: AbortSignal, pollMs = 200): AsyncGenerator<string> {
  let file = await openFile(path);
  let carry = '';
  try {
    while (!signal.aborted) {
      const text = await readMore(file);
      if (text.length > 0) {
        const parts = (carry + text).split('\n');
        carry = parts.pop()!;
        yield* parts;
        continue;
      }
      const now = await stat(path).catch(() => undefined);
      if (now && now.ino !== file.ino) {
        // rotated: the old file is read to its end; its unterminated last line is a line too
        if (carry) yield carry;
        carry = '';
        await file.handle.close();
        file = await openFile(path);
      } else if (now && now.size < file.position) {
        carry = '';
        file.position = 0;
        file.decoder = new StringDecoder('utf8');
      } else {
        await sleep(pollMs, undefined, { signal }).catch(() => {});
      }
    }
    if (carry) yield carry;
  } finally {
    await file.handle.close();
  }
}

interface Followed {
  handle: FileHandle;
  ino: number;
  position: number;
  decoder: StringDecoder;
}

async function openFile(path: string): Promise<Followed> {
  const handle = await open(path, 'r');
  return { handle, ino: (await handle.stat()).ino, position: 0, decoder: new StringDecoder('utf8') };
}

/** What was appended since the last read ('' at the end); a character split across reads is kept for the next. */
async function readMore(f: Followed): Promise<string> {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  const { bytesRead } = await f.handle.read(buffer, 0, CHUNK_BYTES, f.position);
  f.position += bytesRead;
  return bytesRead > 0 ? f.decoder.write(buffer.subarray(0, bytesRead)) : '';
}
