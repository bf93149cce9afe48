import type { CommandContext } from '../context.js';
import { createProgressPrinter } from '../progress.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  const controller = new AbortController();
  // Ctrl-C stops the downloads; what arrived stays in ingest/ and the next pull resumes it.
  const stop = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const result = await engine.pull(operands[0]!, {
      platform: options.platform as string | undefined,
      concurrency: options.maxConcurrentDownloads === undefined ? undefined : Number(options.maxConcurrentDownloads),
      signal: controller.signal,
      onProgress: options.quiet ? undefined : createProgressPrinter(ctx.output),
    });
    ctx.output.out(result.ref);
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
