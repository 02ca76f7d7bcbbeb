import { createHmac, timingSafeEqual } from 'node:crypto';

/** Where a page ended: the keyset (executed_at, event_id) of its last row. */
export interface LogPosition {
  /** executed_at exactly as Postgres printed it (microseconds), so no row is skipped or repeated. */
  executedAt: string;
  eventId: string;
}

const DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;

/**
 * Opaque, tamper-evident page cursors: base64url(JSON position) "." HMAC. The
 * MAC covers the tenant, so a cursor is only valid for the tenant it was
 * issued to; a modified or foreign cursor decodes to undefined.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {
    if (secret.length < 16) throw new Error('the cursor secret must be at least 16 characters');
  }

  encode(clientId: string, position: LogPosition): string {
    const payload = Buffer.from(JSON.stringify([position.executedAt, position.eventId])).toString('base64url');
    return `${payload}.${this.mac(clientId, payload)}`;
  }

  decode(clientId: string, cursor: string): LogPosition | undefined {
    const [payload, mac, extra] = cursor.split('.');
    if (!payload || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.mac(clientId, payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const [executedAt, eventId] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown[];
      if (typeof executedAt !== 'string' || !DATE.test(executedAt) || typeof eventId !== 'string') return undefined;
      return { executedAt, eventId };
    } catch {
      return undefined;
    }
  }

  /**
   * Any JSON value as an opaque cursor of `kind` (e.g. the live tail's
   * positions), bound to the tenant like page cursors. The kind is under the
   * MAC, so no cursor of one kind opens as another, nor as a page cursor.
   */
  seal(clientId: string, kind: string, value: unknown): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(clientId, `${kind}:${payload}`)}`;
  }

  /** The value `seal` put in `cursor` for this tenant and kind; undefined when modified, truncated, foreign or not JSON. */
  open(clientId: string, kind: string, cursor: string): unknown {
    const [payload, mac, extra] = cursor.split('.');
    if (!payload || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.mac(clientId, `${kind}:${payload}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  private mac(clientId: string, payload: string): string {
    // length-prefixed so that no (tenant, payload) pair can imitate another
    return createHmac('sha256', this.secret).update(`${clientId.length}:${clientId}:${payload}`).digest('base64url');
  }
}
