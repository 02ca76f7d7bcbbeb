// The System page: queues, failed jobs, dead letters, worker lag, Redis memory,
// workflow_logs partitions, maintenance runs (uses app.js's helpers).
'use strict';
