import type { Sql } from '@central-logger/db';
import { ALL_RULES, DEFAULT_RULE_OPTIONS, type RuleOptions } from './rules.js';
import { upsertAlert, type Alert, type Finding } from './store.js';

export interface EvaluationResult {
  findings: number;
  raised: Alert[];
}

/**
 * Runs every rule once and stores what they find, with `more` findings the
 * caller made from outside Postgres (rule 9, from the queue). A finding already raised
 * for its rule, subject and window only refreshes that alert's evidence, so a
 * re-run (or two workers) raises nothing twice; `onRaised` hears of new ones.
 */
export async function evaluateAlerts(
  sql: Sql,
  options: Partial<RuleOptions> = {},
  onRaised: (a: Alert) => Promise<void> = async () => {},
  now = Date.now(),
  more: Finding[] = [],
): Promise<EvaluationResult> {
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  const result: EvaluationResult = { findings: 0, raised: [] };
  const findings: Finding[] = [];
  for (const rule of ALL_RULES) findings.push(...(await rule(sql, now, o)));
  findings.push(...more);
  for (const finding of findings) {
    result.findings++;
    const { alert, created } = await upsertAlert(sql, finding);
    if (!created) continue;
    result.raised.push(alert);
    await onRaised(alert);
  }
  return result;
}
