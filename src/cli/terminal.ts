/**
 * The CLI's side of a container's pseudo-terminal (-t).
 *
 * Foreground (`run -it`, `exec -it`): the launcher or the join helper relays
 * between the container's terminal and the CLI's own stdin/stdout, and takes
 * the window size from it at start and on SIGWINCH (native/launcher/console.h).
 * The CLI only puts its terminal into raw mode for that time: withRawTerminal.
 *
 * Attached (`attach`, a detached `run -dit`): the container's monitor holds the
 * terminal's master and listens on the unix socket <run-dir>/attach. This
 * client sends frames and receives the terminal's output as raw bytes:
 *
 *   frame = u8 type, u16 length (big-endian), payload[length]   (length <= 4096)
 *   'i'   input bytes for the terminal
 *   'w'   window size: u16 rows, u16 cols (big-endian); sent on connect and
 *         whenever our terminal is resized
 *
 * The monitor closes the connection when the container's process ends.
 * Ctrl-P Ctrl-Q (Docker's default detach keys) closes it from this side
 * instead: the container goes on. A Ctrl-P followed by anything else is sent
 * as typed.
 */
import net from 'node:net';

/** Docker's default detach sequence: Ctrl-P, Ctrl-Q. */
export const DETACH_KEYS = Buffer.from([0x10, 0x11]);
const MAX_FRAME = 4096;

/** Runs fn with our terminal (when stdin is one) in raw mode, restoring it afterwards whatever happens. */
export async function withRawTerminal<T>(fn: () => Promise<T>): Promise<T> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return fn();
  stdin.setRawMode(true);
  const restore = () => stdin.setRawMode(false);
  process.once('exit', restore);
  try {
    return await fn();
  } finally {
    process.off('exit', restore);
    restore();
    stdin.pause();
  }
}

/** One attach frame. */
export function encodeFrame(type: 'i' | 'w', payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME) throw new RangeError(`attach frame of ${payload.length} bytes`);
  const head = Buffer.from([type.charCodeAt(0), payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** Input bytes as frames of at most 4096 bytes. */
export function encodeInput(data: Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_FRAME) frames.push(encodeFrame('i', data.subarray(at, at + MAX_FRAME)));
  return Buffer.concat(frames);
}

export function encodeResize(rows: number, cols: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(Math.max(0, Math.min(rows, 0xffff)), 0);
  payload.writeUInt16BE(Math.max(0, Math.min(cols, 0xffff)), 2);
  return encodeFrame('w', payload);
}

/**
 * Watches typed input for a detach sequence across chunks. feed() returns the
 * bytes to pass on and whether the sequence was completed (what followed it
 * in the chunk is dropped).
 */
export function detachScanner(keys: Buffer = DETACH_KEYS): { feed(chunk: Buffer): { pass: Buffer; detach: boolean } } {
  let matched = 0;
  return {
    feed(chunk) {
      const pass: number[] = [];
      for (const byte of chunk) {
        if (byte === keys[matched]) {
          matched++;
          if (matched === keys.length) return { pass: Buffer.from(pass), detach: true };
          continue;
        }
        // Not the sequence after all: what was held back goes through as typed.
        pass.push(...keys.subarray(0, matched));
        matched = 0;
        if (byte === keys[0]) matched = 1;
        else pass.push(byte);
      }
      return { pass: Buffer.from(pass), detach: false };
    },
  };
}

export interface AttachStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Our window size now, or undefined when output is no terminal. */
  size?: () => { rows: number; cols: number } | undefined;
  /** Called with a function to call on every resize; returns the unsubscribe. */
  onResize?: (listener: () => void) => () => void;
}

function defaultStreams(): AttachStreams {
  const stdout = process.stdout;
  return {
    input: process.stdin,
    output: stdout,
    size: () => (stdout.isTTY ? { rows: stdout.rows, cols: stdout.columns } : undefined),
    onResize: (listener) => {
      stdout.on('resize', listener);
      return () => stdout.off('resize', listener);
    },
  };
}

/**
 * Connects to a monitor's attach socket and relays until the container ends
 * ('ended') or the detach keys are typed ('detached'). Rejects when the socket
 * cannot be reached.
 */
export async function attachTerminal(socketPath: string, streams: AttachStreams = defaultStreams()): Promise<'ended' | 'detached'> {
  const socket = net.connect({ path: socketPath });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const scanner = detachScanner();
  const sendSize = () => {
    const size = streams.size?.();
    if (size !== undefined && size.rows > 0 && size.cols > 0) socket.write(encodeResize(size.rows, size.cols));
  };
  sendSize();
  const unsubscribe = streams.onResize?.(sendSize);
  return new Promise((resolve) => {
    let done = false;
    const finish = (how: 'ended' | 'detached') => {
      if (done) return;
      done = true;
      unsubscribe?.();
      streams.input.off('data', onInput);
      streams.input.pause();
      socket.destroy();
      resolve(how);
    };
    const onInput = (chunk: Buffer | string) => {
      const { pass, detach } = scanner.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (pass.length > 0) socket.write(encodeInput(pass));
      if (detach) finish('detached');
    };
    socket.on('data', (chunk: Buffer) => streams.output.write(chunk));
    socket.on('error', () => finish('ended'));
    socket.on('close', () => finish('ended'));
    streams.input.on('data', onInput);
    streams.input.resume();
  });
}
