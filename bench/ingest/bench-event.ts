/** The event the ingest benches send (bench:ingest, http-floor, no-queue, validator, bench:replica): the `i`th of a batch, or the single one. */
export const benchEvent = (i = 0) => ({
  environment: 'bench',
  executed_at: new Date().toISOString(),
  status: 'SUCCESS',
  workflow: 'wf',
  level: 'info',
  message: `bench event ${i}`,
  duration_ms: 12.5,
  metadata: { bench: true, n: i },
});
