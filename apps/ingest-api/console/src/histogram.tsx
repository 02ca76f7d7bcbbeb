import { useRef, useState } from 'preact/hooks';

export interface Bucket {
  start: string;
  count: number;
  levels: Record<string, number>;
}

export const INTERVAL_MS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 };
// bottom to top
const STACK = ['none', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * Counts per bucket, stacked by level, as SVG (no chart library: a few
 * hundred rectangles at most). Click a bar, or drag across bars, to zoom to
 * their time; with the keyboard, Tab to a bar and press Enter.
 */
export function Histogram(props: { data: Bucket[]; interval: string; total: number; from: string; to: string; onZoom: (from: string, to: string) => void }) {
  const { data } = props;
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ a: number; b: number } | null>(null);
  const max = Math.max(1, ...data.map((b) => b.count));
  const step = INTERVAL_MS[props.interval] ?? 60_000;
  const W = 10;
  const indexAt = (clientX: number) => {
    const r = svg.current!.getBoundingClientRect();
    return Math.min(data.length - 1, Math.max(0, Math.floor(((clientX - r.left) / r.width) * data.length)));
  };
  const zoom = (a: number, b: number) => {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    props.onZoom(data[lo]!.start, new Date(Date.parse(data[hi]!.start) + step).toISOString());
  };
  const label = (i: number) => fmtTime(data[i]!.start, step);
  return (
    <figure class="histogram" id="histogram" data-from={props.from} data-to={props.to}>
      <figcaption class="muted small">
        <span id="histogram-total">{props.total.toLocaleString()} events</span> · {props.interval} buckets · click or drag to zoom
      </figcaption>
      <div class="chart">
        <svg
          ref={svg}
          class={props.total === 0 ? 'empty' : undefined}
          viewBox={`0 0 ${Math.max(1, data.length) * W} 100`}
          preserveAspectRatio="none"
          role="group"
          aria-label="Events over time"
          onPointerDown={(e) => {
            if (!data.length || e.button !== 0) return;
            svg.current!.setPointerCapture(e.pointerId);
            const i = indexAt(e.clientX);
            setDrag({ a: i, b: i });
          }}
          onPointerMove={(e) => drag && setDrag({ a: drag.a, b: indexAt(e.clientX) })}
          onPointerUp={() => {
            if (drag) zoom(drag.a, drag.b);
            setDrag(null);
          }}
        >
          {drag && <rect class="selection" x={Math.min(drag.a, drag.b) * W} y={0} width={(Math.abs(drag.a - drag.b) + 1) * W} height={100} />}
          {data.map((b, i) => {
            let y = 100;
            return (
              <g
                key={b.start}
                class="bar"
                tabindex={0}
                role="button"
                aria-label={`${label(i)}: ${b.count} events; press Enter to zoom`}
                onKeyDown={(e) => {
                  if (e.key !== 'Enter' && e.key !== ' ') return;
                  e.preventDefault();
                  zoom(i, i);
                }}
              >
                <title>{`${label(i)} — ${b.count} events`}</title>
                <rect class="hit" x={i * W} y={0} width={W} height={100} />
                {STACK.map((lv) => {
                  const n = b.levels[lv] ?? 0;
                  if (!n) return null;
                  const h = (n / max) * 96;
                  y -= h;
                  return <rect key={lv} class={`lv-${lv}`} x={i * W + 1} y={y} width={W - 2} height={h} />;
                })}
              </g>
            );
          })}
        </svg>
        {props.total === 0 && <p class="empty-chart">No events in this range</p>}
      </div>
      {data.length > 0 && (
        <div class="axis small muted">
          <span>{label(0)}</span>
          <span>{label(Math.floor(data.length / 2))}</span>
          <span>{label(data.length - 1)}</span>
        </div>
      )}
      <ul class="legend small">
        {['fatal', 'error', 'warn', 'info', 'debug', 'none'].map((lv) => (
          <li key={lv}>
            <i class={`swatch lv-${lv}`} />
            {lv === 'none' ? 'no level' : lv}
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function fmtTime(iso: string, stepMs = 0): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (stepMs >= 86_400_000) return date;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
