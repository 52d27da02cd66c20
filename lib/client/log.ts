/** The SDK's own log lines, on stderr: info by default, nothing with `quiet`, frames too with `debug`. */
export interface Logger {
  info(line: string): void;
  debug(line: string): void;
}

export function makeLogger(opts: { quiet?: boolean; debug?: boolean }): Logger {
  const write = (level: string, line: string) => process.stderr.write(`${stamp()} ${level} ${line}\n`);
  return {
    info: opts.quiet ? () => undefined : (line) => write('INFO ', line),
    debug: opts.debug && !opts.quiet ? (line) => write('DEBUG', line) : () => undefined,
  };
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}
