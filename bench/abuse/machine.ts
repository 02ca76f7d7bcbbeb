import { cpus, totalmem } from 'node:os';

/** The machine a figure was measured on: cores and memory. */
export function machine(): string {
  return `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString()}`;
}
