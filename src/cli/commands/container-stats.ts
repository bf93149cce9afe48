/** `stats --no-stream [CONTAINER...]`: CPU %, memory, pids from the cgroups (one sample of half a second). */
import type { CommandContext } from '../context.js';
import { parseFormat, renderTable } from '../format.js';
import { binarySize } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  if (options.stream !== false) ctx.output.err('WARNING: only --no-stream is supported: showing one sample');
  const engine = await ctx.engine();
  const stats = await engine.containerStats(operands);
  const percent = (value: number) => `${value.toFixed(2)}%`;
  if (format === 'json') {
    for (const s of stats) {
      ctx.output.out(
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
      );
    }
    return 0;
  }
  const rows = stats.map((s) => [s.id.slice(0, 12), s.name, percent(s.cpuPercent), `${binarySize(s.memoryUsage)} / ${binarySize(s.memoryLimit)}`, percent(s.memoryPercent), String(s.pids)]);
  ctx.output.out(renderTable(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'], rows));
  return 0;
}
