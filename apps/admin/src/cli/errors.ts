/** A failure to report to the CLI user as one line, without a stack. */
export class CliError extends Error {
  override name = 'CliError';
}
