/** One Server-Sent Events message as a client sees it (the WHATWG event stream format). */
export interface SseMessage {
  /** `event:`; 'message' when none. */
  event: string;
  data: string;
  /** The last event id after this message (ids persist across messages, as in EventSource). */
  lastEventId: string;
  /** Whether this message itself carried `id:` (a heartbeat may carry only an id). */
  hasId: boolean;
  /** Comment lines (`: ...`) since the previous message. */
  comments: string[];
  retry?: number;
}

/**
 * Parses an event stream as it arrives: feed it decoded text, get the
 * complete messages. Messages without data are returned too (a heartbeat's
 * comment and id, the opening `retry:`), unlike EventSource, which only
 * updates its last event id for them.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private comments: string[] = [];
  private hasId = false;
  private retry: number | undefined;
  private seen = false;
  lastEventId = '';

  constructor(initialLastEventId = '') {
    this.lastEventId = initialLastEventId;
  }

  push(text: string): SseMessage[] {
    this.buffer += text;
    const out: SseMessage[] = [];
    let m: RegExpExecArray | null;
    const line = /\r\n|\n|\r/g;
    let start = 0;
    for (m = line.exec(this.buffer); m; m = line.exec(this.buffer)) {
      // a lone \r at the very end may be the first half of \r\n: wait for more
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const msg = this.line(this.buffer.slice(start, m.index));
      if (msg) out.push(msg);
      start = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(l: string): SseMessage | undefined {
    if (l === '') return this.dispatch();
    this.seen = true;
    if (l.startsWith(':')) {
      this.comments.push(l.slice(1).trimStart());
      return undefined;
    }
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\u0000')) {
      this.lastEventId = value;
      this.hasId = true;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    if (!this.seen) return undefined;
    const msg: SseMessage = {
      event: this.event || 'message',
      data: this.data.join('\n'),
      lastEventId: this.lastEventId,
      hasId: this.hasId,
      comments: this.comments,
      retry: this.retry,
    };
    this.event = '';
    this.data = [];
    this.comments = [];
    this.hasId = false;
    this.retry = undefined;
    this.seen = false;
    return msg;
  }
}
