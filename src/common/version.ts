/** The engine's version, read once from package.json (no JSON import cost at start-up). */
import fs from 'node:fs';

let cached: string | undefined;

export function engineVersion(): string {
  if (cached === undefined) {
    // dist/src/common/version.js -> package root is three levels up.
    const file = new URL('../../../package.json', import.meta.url);
    try {
      cached = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
