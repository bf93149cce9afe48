import { EngineError } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { createProgressPrinter } from '../progress.js';

/** `image new NAME --file PATH | --url URL` (also `image import`): a rootfs tarball becomes a one-layer image. */
export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const [name, source] = operands as [string, string | undefined];
  let file = options.file as string | undefined;
  let url = options.url as string | undefined;
  // `image import FILE|URL NAME` is Docker's order; `image new NAME --file/--url` the original one.
  if (source !== undefined && file === undefined && url === undefined) {
    if (/^https?:\/\//.test(name)) url = name;
    else file = name;
    return finish(ctx, source, file, url, options);
  }
  return finish(ctx, name, file, url, options);
}

async function finish(ctx: CommandContext, name: string, file: string | undefined, url: string | undefined, options: Record<string, unknown>): Promise<number> {
  if ((file === undefined) === (url === undefined)) {
    throw new EngineError('INVALID_ARGUMENT', `image new ${name}: give exactly one of --file PATH or --url URL`);
  }
  const engine = await ctx.engine();
  const result = await engine.importImage(name, {
    file: file === '-' ? '/dev/stdin' : file,
    url,
    message: options.message as string | undefined,
    onProgress: createProgressPrinter(ctx.output),
  });
  ctx.output.out(result.imageId);
  return 0;
}
