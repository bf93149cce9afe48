/**
 * Helpers of the container commands: Docker's way with several operands
 * (each gets its own report; a failure does not stop the others; exit 1 if
 * any failed) and the columns of `ps`.
 */
import type { CommandContext } from '../context.js';

/** Runs `verb` for each operand; prints what it returns (default the operand) or the error; 0, or 1 if any failed. */
export async function eachContainer(ctx: CommandContext, operands: string[], verb: (nameOrId: string) => Promise<string | void>): Promise<number> {
  let status = 0;
  for (const operand of operands) {
    try {
      const shown = await verb(operand);
      ctx.output.out(shown ?? operand);
    } catch (error) {
      ctx.output.err(`Error response from daemon: ${(error as Error).message}`);
      status = 1;
    }
  }
  return status;
}

/** ps's COMMAND: quoted, shortened to 20 characters with an ellipsis (unless --no-trunc). */
export function commandColumn(command: string, truncate: boolean): string {
  const text = truncate && command.length > 20 ? `${command.slice(0, 19)}…` : command;
  return `"${text}"`;
}

/** go-units' HumanSize in binary units, as `docker stats` prints memory (1.5MiB). */
export function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(unit === 0 ? 0 : 2))}${units[unit]}`;
}

export const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const list = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : []);

/** A non-negative integer option; INVALID (thrown as a plain Error for the usage path) otherwise. */
export function count(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw new Error(`invalid value for ${flag}: ${String(value)}`);
  return Number(value);
}

/** Docker's way for one container: what the engine refuses is reported and exits 1 (125 is for the CLI's own failures). */
export async function oneContainer(ctx: CommandContext, verb: () => Promise<number>): Promise<number> {
  try {
    return await verb();
  } catch (error) {
    ctx.output.err(`Error response from daemon: ${(error as Error).message}`);
    return 1;
  }
}
