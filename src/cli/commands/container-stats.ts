/**
 * `stats [--no-stream] [CONTAINER...]`: CPU %, memory and pids from the
 * cgroups. --no-stream prints one sample (CPU measured over half a second);
 * otherwise a new sample every second until Ctrl-C.
 */
import type { ContainerStats } from '../../engine/index.js';
import type { CommandContext } from '../context.js';
import { parseFormat, renderTable } from '../format.js';
import { binarySize } from './container-each.js';

const percent = (value: number) => `${value.toFixed(2)}%`;

function render(stats: ContainerStats[], json: boolean): string {
  if (json) {
    return stats
      .map((s) =>
        JSON.stringify({
          BlockIO: '--',
          CPUPerc: percent(s.cpuPercent),
          Container: s.id.slice(0, 12),
          ID: s.id.slice(0, 12),
          MemPerc: percent(s.memoryPercent),
          MemUsage: `${binarySize(s.memoryUsage)} / ${binarySize(s.memoryLimit)}`,
          Name: s.name,
          NetIO: '--',
          PIDs: String(s.pids),
        }),
      )
      .join('\n');
  }
  const rows = stats.map((s) => [s.id.slice(0, 12), s.name, percent(s.cpuPercent), `${binarySize(s.memoryUsage)} / ${binarySize(s.memoryLimit)}`, percent(s.memoryPercent), String(s.pids)]);
  return renderTable(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'], rows);
}

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const json = parseFormat(options.format) === 'json';
  const engine = await ctx.engine();
  if (options.stream === false) {
    const text = render(await engine.containerStats(operands), json);
    if (text !== '') ctx.output.out(text);
    return 0;
  }
  let stopped = false;
  const stop = () => (stopped = true);
  process.once('SIGINT', stop);
  try {
    while (!stopped) {
      const text = render(await engine.containerStats(operands, { intervalMs: 1000 }), json);
      if (stopped) break;
      ctx.output.out(`${ctx.output.isTTY && !json ? '\x1b[2J\x1b[H' : ''}${text}`);
    }
  } finally {
    process.off('SIGINT', stop);
  }
  return 0;
}
