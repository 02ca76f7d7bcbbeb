import { createHash } from 'node:crypto';

/**
 * The headers of every answer, raw handlers' and error answers included: no
 * browser guesses a JSON or NDJSON answer (which may echo tenant text) to be
 * HTML or script.
 */
export const EVERY_ANSWER: Readonly<Record<string, string>> = Object.freeze({ 'X-Content-Type-Options': 'nosniff' });

/** Answers that hold a tenant's logs, keys or usage: no browser or proxy keeps a copy. */
export const NO_STORE: Readonly<Record<string, string>> = Object.freeze({ 'Cache-Control': 'no-store' });

/** What an HTML page may load, beside `default-src 'none'`; nothing inline but what `styleHashes` allows. */
export interface PagePolicy {
  /** Sources for scripts (e.g. `'self'`); none when absent. */
  script?: string;
  /** Sources for style sheets (e.g. `'self'`). */
  style?: string;
  /** Inline `<style>` blocks allowed by their SHA-256 (see `styleHash`), instead of 'unsafe-inline'. */
  styleHashes?: string[];
  /** Where scripts may fetch from (e.g. `'self'`). */
  connect?: string;
  img?: string;
}

/**
 * The headers of an HTML page: a CSP without 'unsafe-inline' that also
 * forbids framing (`frame-ancestors 'none'`, and X-Frame-Options for older
 * browsers), no base or form targets elsewhere, no referrer.
 */
export function htmlHeaders(policy: PagePolicy): Record<string, string> {
  const styles = [policy.style, ...(policy.styleHashes ?? []).map((h) => `'${h}'`)].filter(Boolean).join(' ');
  const csp = [
    "default-src 'none'",
    policy.script && `script-src ${policy.script}`,
    styles && `style-src ${styles}`,
    policy.img && `img-src ${policy.img}`,
    policy.connect && `connect-src ${policy.connect}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ]
    .filter(Boolean)
    .join('; ');
  return { ...EVERY_ANSWER, 'Content-Security-Policy': csp, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' };
}

/** The CSP source of an inline `<style>` block's text: `sha256-<base64>`. */
export function styleHash(css: string): string {
  return `sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}`;
}
