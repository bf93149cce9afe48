import fs from 'node:fs';
import { EngineError } from '../../common/index.js';
import type { CommandContext } from '../context.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const registry = operands[0] ?? 'docker.io';
  const username = options.username as string | undefined;
  let password = options.password as string | undefined;
  if (options.passwordStdin) password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (username === undefined || password === undefined) {
    throw new EngineError('INVALID_ARGUMENT', `login ${registry}: give --username and --password-stdin (or --password)`);
  }
  if (options.password !== undefined) ctx.output.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
  const engine = await ctx.engine();
  await engine.login(registry, username, password);
  ctx.output.out('Login Succeeded');
  return 0;
}
