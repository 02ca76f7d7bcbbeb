/** What the plain output shows of an event, as GET /api/v1/logs returns it. */
export interface LogLine {
  event_id: string;
  executed_at: string;
  level: string | null;
  status: string;
  workflow: string | null;
  message: string | null;
}

const COLORS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[1;31m' };
const RESET = '\x1b[0m';

/**
 * One readable line: time, level, workflow, message (the status when there
 * is none). Only the level is colored, and only on a terminal. Control
 * characters in logged values are shown escaped: a log line can move no
 * cursor and set no color of the terminal it is printed on.
 */
export function formatLine(log: LogLine, color: boolean): string {
  const level = (log.level ?? '-').toUpperCase().padEnd(5);
  const shown = color && log.level && COLORS[log.level] ? `${COLORS[log.level]}${level}${RESET}` : level;
  const workflow = clean(log.workflow ?? '-');
  const message = clean(log.message ?? `(${log.status})`);
  return `${log.executed_at} ${shown} ${workflow} ${message}`;
}

function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
