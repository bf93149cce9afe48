/** Small formatting helpers shared by the commands (tables, sizes, JSON). */

export type Format = 'table' | 'json';

export function parseFormat(value: unknown): Format {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new Error(`--format: unknown format ${JSON.stringify(value)} (use table or json)`);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Left-aligned columns separated by three spaces, Docker's style. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Sizes in decimal units as Docker prints them (`7.8MB`). */
export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = value >= 100 || unit === 0 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))}${UNITS[unit]}`;
}

/** "3 minutes ago", Docker's relative times. */
export function timeAgo(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'} ago`;
  if (seconds < 1) return 'Less than a second ago';
  if (seconds < 60) return plural(seconds, 'second');
  if (seconds < 3600) return plural(Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return plural(Math.round(seconds / 3600), 'hour');
  if (seconds < 86400 * 14) return plural(Math.round(seconds / 86400), 'day');
  if (seconds < 86400 * 60) return plural(Math.round(seconds / 604800), 'week');
  if (seconds < 86400 * 730) return plural(Math.round(seconds / 2592000), 'month');
  return plural(Math.round(seconds / 31536000), 'year');
}

/**
 * Docker's inspect output: one JSON array of everything found, an error line
 * for each name that was not, and exit status 1 when any was missing.
 */
export async function printInspected(output: { out(text: string): void; err(text: string): void }, names: string[], inspect: (name: string) => Promise<unknown>): Promise<number> {
  const found: unknown[] = [];
  let status = 0;
  for (const name of names) {
    try {
      found.push(await inspect(name));
    } catch (error) {
      output.err(`Error: ${(error as Error).message}`);
      status = 1;
    }
  }
  output.out(toJson(found));
  return status;
}
