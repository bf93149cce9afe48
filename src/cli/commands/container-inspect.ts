/**
 * `inspect CONTAINER...`: a JSON array, Docker's shape; unknown ones are
 * reported and make it exit 1. A word that names no container but an image
 * shows the image (Docker's top-level inspect does both). `-f` takes json
 * or a small template: `{{.State.Pid}}`, `{{json .Config.Env}}`, text around them.
 */
import type { CommandContext } from '../context.js';
import { toJson } from '../format.js';

/** Fills `{{.Path.To.Field}}` and `{{json .Path}}` from an object; one line per inspected object. */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    let current: unknown = value;
    for (const key of path.split('.').filter(Boolean)) {
      current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
    }
    if (json !== undefined) return JSON.stringify(current ?? null);
    if (current === undefined || current === null) return '<no value>';
    if (typeof current === 'object') return Array.isArray(current) ? `[${current.join(' ')}]` : JSON.stringify(current);
    return String(current);
  });
}

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = typeof options.format === 'string' ? options.format : 'json';
  const engine = await ctx.engine();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const operand of operands) {
    try {
      found.push(await engine.inspectContainer(operand));
    } catch (error) {
      const image = (error as { code?: string }).code === 'NOT_FOUND' ? await engine.inspectImage(operand).catch(() => undefined) : undefined;
      if (image !== undefined) found.push(image);
      else errors.push((error as Error).message);
    }
  }
  if (format === 'json' || format === 'table') ctx.output.out(toJson(found));
  else for (const item of found) ctx.output.out(renderTemplate(format, item));
  for (const message of errors) ctx.output.err(`Error: ${message}`);
  return errors.length > 0 ? 1 : 0;
}
