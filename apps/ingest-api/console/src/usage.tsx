import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from './api.js';

interface Limits {
  limits: {
    per_key: { requests_per_second: number; request_burst: number; events_per_second: number; event_burst: number };
    per_client: { events_per_second: number; event_burst: number; events_per_day: number };
  };
  usage: { day: string; events_today: number; events_remaining_today: number; resets_at: string };
}
interface Stats {
  data: Array<{ key: string; count: number }>;
}

/** Usage: today's events against the daily quota, stored events per day (30 days), and the rate limits. */
export function Usage() {
  const [limits, setLimits] = useState<Limits | null>(null);
  const [days, setDays] = useState<Stats['data'] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
    api<Limits>('GET', '/api/v1/limits').then(setLimits, (e) => setError(errorText(e)));
    api<Stats>('GET', `/api/v1/stats?group_by=day&from=${encodeURIComponent(from)}`).then(
      (s) => setDays(s.data),
      (e) => setError(errorText(e)),
    );
  }, []);
  const n = (x: number) => x.toLocaleString();
  const max = Math.max(1, ...(days ?? []).map((d) => d.count));
  return (
    <section class="page" id="usage">
      <h1>Usage</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {limits && (
        <div class="card">
          <h2>Today ({limits.usage.day}, UTC)</h2>
          <p id="usage-today">
            <strong>{n(limits.usage.events_today)}</strong> of {n(limits.limits.per_client.events_per_day)} events a day
          </p>
          <meter
            min={0}
            max={limits.limits.per_client.events_per_day}
            value={limits.usage.events_today}
            high={limits.limits.per_client.events_per_day * 0.8}
            aria-label="Events today against the daily quota"
          />
          <p class="muted small">
            {n(limits.usage.events_remaining_today)} left; resets {new Date(limits.usage.resets_at).toLocaleString()}
          </p>
        </div>
      )}
      <div class="card">
        <h2>Stored events per day</h2>
        {days === null ? (
          <p class="muted">Loading…</p>
        ) : days.length === 0 ? (
          <p class="muted">No events in the last 30 days.</p>
        ) : (
          <table class="bars" id="usage-days">
            <tbody>
              {days.map((d) => (
                <tr key={d.key}>
                  <th scope="row">{String(d.key).slice(0, 10)}</th>
                  <td>
                    <meter min={0} max={max} value={d.count} />
                  </td>
                  <td class="num">{n(d.count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {limits && (
        <div class="card">
          <h2>Rate limits</h2>
          <table id="rate-limits">
            <tbody>
              <tr>
                <th scope="row">Requests per second, per key</th>
                <td class="num">
                  {n(limits.limits.per_key.requests_per_second)} (burst {n(limits.limits.per_key.request_burst)})
                </td>
              </tr>
              <tr>
                <th scope="row">Events per second, per key</th>
                <td class="num">
                  {n(limits.limits.per_key.events_per_second)} (burst {n(limits.limits.per_key.event_burst)})
                </td>
              </tr>
              <tr>
                <th scope="row">Events per second, whole tenant</th>
                <td class="num">
                  {n(limits.limits.per_client.events_per_second)} (burst {n(limits.limits.per_client.event_burst)})
                </td>
              </tr>
              <tr>
                <th scope="row">Events per day</th>
                <td class="num">{n(limits.limits.per_client.events_per_day)}</td>
              </tr>
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
