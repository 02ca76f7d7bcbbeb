import { useState } from 'preact/hooks';
import { fmtTime } from './histogram.js';

/** A stored log as GET /api/v1/logs returns it (only what the list shows is named). */
export interface LogRow {
  event_id: string;
  executed_at: string;
  level?: string | null;
  status?: string;
  workflow?: string | null;
  environment?: string;
  message?: string | null;
  [field: string]: unknown;
}

/**
 * Logs, newest first. Every value is rendered as text (Preact sets text
 * nodes, never HTML); a long one is cut with an ellipsis on its row and
 * wraps in the expanded JSON. A row opens with a click, Enter or Space.
 */
export function Results(props: { rows: LogRow[]; empty: string }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (!props.rows.length)
    return (
      <p class="empty card" id="results-empty">
        {props.empty}
      </p>
    );
  const toggle = (id: string) => {
    const next = new Set(open);
    if (!next.delete(id)) next.add(id);
    setOpen(next);
  };
  return (
    <ol class="results" id="results" aria-label="Logs, newest first">
      {props.rows.map((r) => (
        <li key={r.event_id} class={open.has(r.event_id) ? 'row open' : 'row'} data-id={r.event_id}>
          <button type="button" class="summary" aria-expanded={open.has(r.event_id)} onClick={() => toggle(r.event_id)}>
            <time dateTime={r.executed_at}>{fmtSeconds(r.executed_at)}</time>
            <span class={`level lv-${r.level ?? 'none'}`}>{r.level ?? '—'}</span>
            <span class="status">{String(r.status ?? '')}</span>
            <span class="workflow">{String(r.workflow ?? '')}</span>
            <span class="message">{String(r.message ?? '')}</span>
          </button>
          {open.has(r.event_id) && <Detail row={r} />}
        </li>
      ))}
    </ol>
  );
}

function Detail(props: { row: LogRow }) {
  const json = JSON.stringify(props.row, null, 2);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(json).then(
      () => setCopied(true),
      () => setCopied(false),
    );
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="detail">
      <button type="button" class="copy" onClick={copy}>
        {copied ? 'Copied' : 'Copy JSON'}
      </button>
      <pre class="json">{json}</pre>
    </div>
  );
}

function fmtSeconds(iso: string): string {
  const d = new Date(iso);
  return `${fmtTime(iso)}:${String(d.getSeconds()).padStart(2, '0')}`;
}
