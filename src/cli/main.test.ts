import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { buildProgram } from './main.js';
import { COMMANDS } from './table.js';
import type { Output } from './context.js';

/**
 * What commander prints and throws for a command line, parsed by the
 * program built for it (`selective`: only the command it names) or by the
 * whole program. Actions never run: every line here ends in help or an error.
 */
async function outcome(args: string[], selective: boolean): Promise<string> {
  const lines: string[] = [];
  const output: Output = { isTTY: false, out: (text) => lines.push(`out: ${text}`), err: (text) => lines.push(`err: ${text}`) };
  const argv = ['node', 'didactic-container', ...args];
  const program = buildProgram(output, selective ? argv : undefined);
  for (const command of program.commands) command.hook('preAction', () => assert.fail(`${args.join(' ')} reached an action`));
  try {
    await program.parseAsync(argv);
    lines.push('parsed');
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    lines.push(`${error.code} ${error.exitCode} ${error.message}`);
  }
  return lines.join('\n');
}

/** Every spelling of every command: `version`, `image ls`, `image list`, `images`. */
function spellings(): string[][] {
  return COMMANDS.flatMap((spec) => {
    const [noun, verb] = spec.name.split(' ') as [string, string | undefined];
    if (verb === undefined) return [[noun]];
    return [[noun, verb], ...(spec.aliases ?? []).map((alias) => [noun, alias]), ...(spec.shortcuts ?? []).map((shortcut) => [shortcut])];
  });
}

test('each command defined alone prints the same help as in the whole program', async () => {
  for (const words of spellings()) {
    for (const args of [[...words, '--help'], ['--root', '/r', '--log-level=info', ...words, '--help']]) {
      const whole = await outcome(args, false);
      assert.match(whole, /Usage: didactic-container/);
      assert.equal(await outcome(args, true), whole, args.join(' '));
    }
  }
});

test('bad flags, missing and extra operands fail alike with the command alone', async () => {
  const lines = [
    ['run'],
    ['run', '--netwrk', 'none', 'x'],
    ['image', 'ls', '--bogus'],
    ['image', 'ls', 'extra'],
    ['images', '--no-such'],
    ['tag', 'a'],
    ['logs', '--tail'],
    ['version', '--formt', 'json'],
    ['--log-level', 'loud', 'version'],
    ['network', 'create'],
    ['volume', 'rm'],
  ];
  for (const args of lines) {
    const whole = await outcome(args, false);
    assert.match(whole, /^commander\.\S+ 1 /m, `${args.join(' ')}: ${whole}`);
    assert.equal(await outcome(args, true), whole, args.join(' '));
  }
});

test('help, misspellings and options before the command get the whole program', async () => {
  for (const args of [[], ['--help'], ['help', 'run'], ['image'], ['image', 'lss'], ['imags'], ['-h', 'run'], ['--explain=1', 'run']]) {
    const argv = ['node', 'didactic-container', ...args];
    const output: Output = { isTTY: false, out: () => {}, err: () => {} };
    assert.equal(buildProgram(output, argv).commands.length, buildProgram(output).commands.length, args.join(' '));
  }
  const output: Output = { isTTY: false, out: () => {}, err: () => {} };
  assert.deepEqual(buildProgram(output, ['node', 'dc', '--root', '/r', 'image', 'list']).commands.map((command) => command.name()), ['image']);
  assert.deepEqual(buildProgram(output, ['node', 'dc', 'images']).commands.map((command) => command.name()), ['images']);
});
