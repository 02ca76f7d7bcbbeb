import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import { Histogram, type Bucket } from './histogram.js';
import { Results, type LogRow } from './results.js';
import { navigate, useLocation } from './router.js';
import { parseBar, PRESETS, rangeParams, readQuery, writeQuery, type Query } from './query.js';
import { Live } from './live.js';

/** A page of GET /api/v1/logs. */
interface LogsPage {
  data: LogRow[];
  next_cursor: string | null;
}

interface Page {
  rows: LogRow[];
  next: string | null;
  histogram: { data: Bucket[]; interval: string; total: number; from: string; to: string } | null;
}

/** Explore: the query bar, the time range, the histogram and the logs; the URL holds all of it. */
export function Explore() {
  const loc = useLocation();
  const q = readQuery(loc.search);
  const [bar, setBar] = useState(q.text);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const [exporting, setExporting] = useState('');
  const [custom, setCustom] = useState({ from: '', to: '' });
  // the filters and range of the page shown, for "load more"
  const shown = useRef<URLSearchParams>(new URLSearchParams());
  const key = writeQuery({ ...q, live: false });

  const go = (next: Partial<Query>) => navigate(`/${writeQuery({ ...q, ...next })}`);
  useEffect(() => setBar(q.text), [q.text]);
  useEffect(() => setCustom({ from: toInput(localIso(q.from)), to: toInput(localIso(q.to)) }), [q.from, q.to]);

  useEffect(() => {
    const { params, problems } = parseBar(q.text);
    if (problems.length) {
      setError(problems.join('; '));
      setPage({ rows: [], next: null, histogram: null });
      return;
    }
    const range = rangeParams(q);
    params.set('from', range.from);
    params.set('to', range.to);
    shown.current = params;
    let stale = false;
    setLoading(true);
    setError('');
    Promise.all([api<LogsPage>('GET', `/api/v1/logs?${params}&limit=100`), api<Page['histogram']>('GET', `/api/v1/logs/histogram?${params}`)])
      .then(([logs, histogram]) => !stale && setPage({ rows: logs.data, next: logs.next_cursor, histogram }))
      .catch((err) => {
        if (stale) return;
        setError(errorText(err));
        setPage({ rows: [], next: null, histogram: null });
      })
      .finally(() => !stale && setLoading(false));
    return () => {
      stale = true;
    };
  }, [key]);

  const loadMore = async () => {
    if (!page?.next) return;
    try {
      const more = await api<LogsPage>('GET', `/api/v1/logs?${shown.current}&limit=100&cursor=${encodeURIComponent(page.next)}`);
      setPage({ ...page, rows: [...page.rows, ...more.data], next: more.next_cursor });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const download = async () => {
    setExporting('Preparing…');
    try {
      const res = await fetch(`/api/v1/logs?${shown.current}`, { headers: { accept: 'application/x-ndjson' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error((await res.json().catch(() => undefined))?.message ?? `${res.status}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `logs-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExporting('');
    } catch (err) {
      setExporting(`Export failed: ${errorText(err)}`);
    }
  };

  const { params: liveFilters } = parseBar(q.text);

  return (
    <section class="explore">
      <form
        class="querybar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ text: bar });
        }}
      >
        <label class="sr-only" for="query">
          Query
        </label>
        <input
          id="query"
          type="search"
          value={bar}
          onInput={(e) => setBar((e.target as HTMLInputElement).value)}
          placeholder='text, level=error, status=FAILURE, metadata.region=eu, workflow="nightly sync"'
          spellcheck={false}
          autocomplete="off"
        />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <div class="toolbar">
        <div class="presets" role="group" aria-label="Time range">
          {Object.keys(PRESETS).map((p) => (
            <button key={p} type="button" aria-pressed={q.range === p} onClick={() => go({ range: p, from: undefined, to: undefined })}>
              {p}
            </button>
          ))}
        </div>
        <form
          class="custom"
          onSubmit={(e) => {
            e.preventDefault();
            go({ range: 'custom', from: fromInput(custom.from), to: fromInput(custom.to) });
          }}
        >
          <label>
            From{' '}
            <input
              name="from"
              type="datetime-local"
              value={custom.from}
              onInput={(e) => setCustom({ ...custom, from: (e.target as HTMLInputElement).value })}
            />
          </label>
          <label>
            To <input name="to" type="datetime-local" value={custom.to} onInput={(e) => setCustom({ ...custom, to: (e.target as HTMLInputElement).value })} />
          </label>
          <button type="submit">Apply</button>
        </form>
        <div class="actions">
          <button type="button" id="live-toggle" aria-pressed={q.live} onClick={() => go({ live: !q.live })}>
            {q.live ? '● Live' : 'Live'}
          </button>
          <button type="button" id="export" onClick={download}>
            Download NDJSON
          </button>
        </div>
      </div>
      {exporting && (
        <p class="muted small" id="export-status">
          {exporting}
        </p>
      )}
      {error && (
        <p class="error card" role="alert" id="query-error">
          {error}
        </p>
      )}
      {/* Live shows what arrives from now on: the histogram of the range would not move with it */}
      {page?.histogram && !q.live && <Histogram {...page.histogram} onZoom={(from, to) => go({ range: 'custom', from, to })} />}
      {q.live ? (
        <Live filters={liveFilters} />
      ) : (
        <>
          {loading && !page && <p class="muted">Loading…</p>}
          {page && <Results rows={page.rows} empty={error ? 'No results.' : 'No logs match this query in this range. Widen the range or clear a filter.'} />}
          {page?.next && (
            <button type="button" class="more" id="load-more" onClick={loadMore}>
              Load more
            </button>
          )}
        </>
      )}
    </section>
  );
}

const toInput = (iso?: string) => (iso ? iso.slice(0, 16) : '');
const fromInput = (v: string) => (v ? new Date(v).toISOString() : undefined);

// an ISO instant as the local wall-clock time a datetime-local input shows
function localIso(iso?: string): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString();
}
