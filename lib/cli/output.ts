/** #20: how the commands print: aligned tables for people, `--json` for scripts, ages as docker says them. */

/** Columns padded to their widest cell, headers first, as `docker ps` prints. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  process.stdout.write([headers, ...rows].map(line).join('\n') + '\n');
}

/** One JSON value on one line, for scripts (`--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** "5 seconds ago", "3 minutes ago", … as docker's CREATED column. */
export function ago(time: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - time) / 1000));
  const [n, unit] = s < 60 ? [s, 'second'] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86_400 ? [Math.floor(s / 3600), 'hour'] : [Math.floor(s / 86_400), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
}

/** The location option every command that talks to a location takes. */
export interface LocationOption {
  location?: string;
}
