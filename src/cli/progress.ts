/**
 * Draws pull/import progress: one live bar per layer on a TTY, plain lines
 * (phase changes and every quarter of a download) otherwise.
 */
import type { ProgressEvent, ProgressSink } from '../common/index.js';
import type { Output } from './context.js';
import { humanSize } from './format.js';

interface Row {
  id: string;
  status: string;
  current: number;
  total: number;
}

const BAR_WIDTH = 30;

export function createProgressPrinter(output: Output, stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const rows = new Map<string, Row>();
  const quarters = new Map<string, number>();
  let drawn = 0;
  const live = stream.isTTY === true;

  const render = (row: Row): string => {
    if (row.total <= 0) return `${row.id}: ${row.status}`;
    const filled = Math.min(BAR_WIDTH, Math.round((row.current / row.total) * BAR_WIDTH));
    const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR_WIDTH - filled)}]`;
    return `${row.id}: ${row.status.padEnd(11)} ${bar} ${humanSize(row.current)}/${humanSize(row.total)}`;
  };
  const redraw = () => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const row of rows.values()) text += `\x1b[2K${render(row)}\n`;
    drawn = rows.size;
    stream.write(text);
  };
  const update = (digest: string, status: string, current = 0, total = 0) => {
    const id = digest.replace(/^sha256:/, '').slice(0, 12);
    const row = rows.get(id) ?? { id, status, current, total };
    const phaseChanged = row.status !== status || !rows.has(id);
    Object.assign(row, { status, current, total });
    rows.set(id, row);
    if (live) return redraw();
    const quarter = total > 0 ? Math.floor((current / total) * 4) : 0;
    if (phaseChanged || quarter > (quarters.get(id) ?? 0)) {
      quarters.set(id, quarter);
      output.err(render(row));
    }
  };

  return (event: ProgressEvent) => {
    switch (event.kind) {
      case 'resolve':
        return output.err(`Resolving ${event.ref}${event.digest ? ` -> ${event.digest}` : ''}`);
      case 'layer-cached':
        return update(event.digest, 'Already exists');
      case 'download':
        return update(event.digest, event.resumedFrom ? 'Resuming' : 'Downloading', event.current, event.total);
      case 'verify':
        return update(event.digest, 'Verifying');
      case 'extract':
        return update(event.digest, 'Extracting', event.current, event.total);
      case 'layer-done':
        return update(event.digest, 'Pull complete');
      case 'done':
        return output.err(`Digest: ${event.digest ?? event.imageId}\nStatus: downloaded ${humanSize(event.downloadedBytes)} for ${event.ref}`);
      case 'message':
        return output.err(event.text);
    }
  };
}
