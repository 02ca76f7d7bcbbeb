const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90d`, `24h`, `30m`, `45s`, `2w` into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*([smhdw])$/i.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}
