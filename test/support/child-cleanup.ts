// After each test file: every child process it started is killed by its
// process group, also when a test failed before its own cleanup, so no
// ingest-api, worker or CLI outlives the file that started it.
import { afterAll } from 'vitest';
import { killAllChildren } from './child-processes.js';

afterAll(killAllChildren);
