/** The explore query, all of it in the URL's search string so that a link shares it. */
export interface Query {
  /** The query bar's text as typed. */
  text: string;
  /** A preset (15m, 1h, 24h, 7d), or custom when from/to are set. */
  range: string;
  from?: string;
  to?: string;
  live: boolean;
}

export const PRESETS: Record<string, number> = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };
export const FIELDS = ['status', 'environment', 'workflow', 'run_id', 'level', 'trace_id', 'span_id'];
const FIELD = /^(status|environment|workflow|run_id|level|trace_id|span_id|metadata\.[A-Za-z0-9_-]{1,64})$/;

export function readQuery(search: string): Query {
  const p = new URLSearchParams(search);
  const from = p.get('from') ?? undefined;
  const to = p.get('to') ?? undefined;
  return {
    text: p.get('query') ?? '',
    range: from || to ? 'custom' : PRESETS[p.get('range') ?? ''] ? p.get('range')! : '1h',
    from,
    to,
    live: p.get('live') === '1',
  };
}

export function writeQuery(q: Query): string {
  const p = new URLSearchParams();
  if (q.text.trim()) p.set('query', q.text.trim());
  if (q.range === 'custom') {
    if (q.from) p.set('from', q.from);
    if (q.to) p.set('to', q.to);
  } else p.set('range', q.range);
  if (q.live) p.set('live', '1');
  return `?${p.toString()}`;
}

/**
 * The query bar's text as API filters: `field=value` (or `field="a value"`)
 * for status, environment, workflow, run_id, level, trace_id, span_id and
 * metadata.<field>; every other word is text searched in the message.
 */
export function parseBar(text: string): { params: URLSearchParams; problems: string[] } {
  const params = new URLSearchParams();
  const words: string[] = [];
  const problems: string[] = [];
  const re = /([^\s=]+)=(?:"([^"]*)"|(\S*))|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== undefined) {
      const value = m[2] ?? m[3] ?? '';
      if (!FIELD.test(m[1])) problems.push(`unknown field "${m[1]}" (use ${FIELDS.join(', ')} or metadata.<field>)`);
      else if (!value) problems.push(`${m[1]}= needs a value`);
      else params.set(m[1], value);
    } else words.push(m[4] ?? m[5]!);
  }
  const q = words.join(' ').trim();
  if (q) params.set('q', q);
  return { params, problems };
}

/** The query's time range as API parameters, now. */
export function rangeParams(q: Query, now = Date.now()): { from: string; to: string } {
  if (q.range === 'custom') return { from: q.from ?? new Date(now - PRESETS['24h']!).toISOString(), to: q.to ?? new Date(now).toISOString() };
  return { from: new Date(now - (PRESETS[q.range] ?? PRESETS['1h']!)).toISOString(), to: new Date(now).toISOString() };
}
