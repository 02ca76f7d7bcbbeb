import { useEffect, useRef, useState } from 'preact/hooks';
import { Results, type LogRow } from './results.js';

/** Rows kept in memory while tailing; older ones are dropped. */
export const MAX_LIVE_ROWS = 500;

/**
 * Live tail of GET /api/v1/logs/tail (Server-Sent Events) with the query's
 * filters; the browser's EventSource reconnects by itself with Last-Event-ID,
 * so nothing is missed or repeated. Pause keeps the stream and holds new
 * rows (bounded too) until Resume.
 */
export function Live(props: { filters: URLSearchParams }) {
  const [rows, setRows] = useState<LogRow[]>([]);
  const [paused, setPaused] = useState(false);
  const [state, setState] = useState('connecting');
  const held = useRef<LogRow[]>([]);
  const pausedRef = useRef(false);
  const [heldCount, setHeldCount] = useState(0);
  const filters = props.filters.toString();

  useEffect(() => {
    setRows([]);
    held.current = [];
    const source = new EventSource(`/api/v1/logs/tail${filters ? `?${filters}` : ''}`);
    source.onopen = () => setState('live');
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    source.onmessage = (m: MessageEvent<string>) => {
      let row: LogRow;
      try {
        row = JSON.parse(m.data) as LogRow;
      } catch {
        return;
      }
      if (pausedRef.current) {
        held.current = [row, ...held.current].slice(0, MAX_LIVE_ROWS);
        setHeldCount(held.current.length);
      } else setRows((r) => [row, ...r].slice(0, MAX_LIVE_ROWS));
    };
    return () => source.close();
  }, [filters]);

  const toggle = () => {
    const next = !paused;
    pausedRef.current = next;
    setPaused(next);
    if (!next) {
      const h = held.current;
      held.current = [];
      setHeldCount(0);
      setRows((r) => [...h, ...r].slice(0, MAX_LIVE_ROWS));
    }
  };

  return (
    <div class="live" id="live">
      <div class="live-bar">
        <span class={`dot ${state}`} aria-hidden="true" />
        <span id="live-state">{paused ? `paused${heldCount ? ` · ${heldCount} new` : ''}` : state}</span>
        <button type="button" id="live-pause" onClick={toggle}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <span class="muted small">newest first · last {MAX_LIVE_ROWS} kept</span>
      </div>
      <Results rows={rows} empty="Waiting for new events…" />
    </div>
  );
}
