import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { attachTerminal, detachScanner, encodeFrame, encodeInput, encodeResize } from './terminal.js';

test('frames: type, big-endian length, payload; input split at 4096 bytes', () => {
  assert.deepEqual([...encodeFrame('i', Buffer.from('ab'))], [0x69, 0, 2, 0x61, 0x62]);
  assert.deepEqual([...encodeResize(40, 300)], [0x77, 0, 4, 0, 40, 1, 44]);
  const big = encodeInput(Buffer.alloc(5000, 0x41));
  assert.equal(big.length, 3 + 4096 + 3 + 904);
  assert.deepEqual([...big.subarray(4099, 4102)], [0x69, 904 >> 8, 904 & 0xff]);
  assert.throws(() => encodeFrame('i', Buffer.alloc(4097)), RangeError);
});

test('detach keys: Ctrl-P Ctrl-Q detaches, also split across chunks; Ctrl-P then anything else passes', () => {
  assert.deepEqual(detachScanner().feed(Buffer.from('ls\x10\x11rest')), { pass: Buffer.from('ls'), detach: true });
  const split = detachScanner();
  assert.deepEqual(split.feed(Buffer.from('a\x10')), { pass: Buffer.from('a'), detach: false });
  assert.deepEqual(split.feed(Buffer.from('\x11')), { pass: Buffer.alloc(0), detach: true });
  const other = detachScanner();
  assert.deepEqual(other.feed(Buffer.from('\x10x\x10\x10')), { pass: Buffer.from('\x10x\x10'), detach: false });
  assert.deepEqual(other.feed(Buffer.from('y')), { pass: Buffer.from('\x10y'), detach: false });
});

test('attachTerminal sends the size and framed input, shows output, ends with the connection or on detach', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-attach-'));
  const socketPath = path.join(dir, 'attach');
  const received: Buffer[] = [];
  const server = net.createServer((conn) => {
    conn.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (Buffer.concat(received).includes('bye')) conn.end('output\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const ended = attachTerminal(socketPath, { input, output, size: () => ({ rows: 24, cols: 80 }) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    input.write('bye');
    assert.equal(await ended, 'ended');
    assert.equal(shown, 'output\r\n');
    assert.deepEqual(Buffer.concat(received), Buffer.concat([encodeResize(24, 80), encodeInput(Buffer.from('bye'))]));

    const second = new PassThrough();
    const detached = attachTerminal(socketPath, { input: second, output: new PassThrough() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    second.write('\x10\x11');
    assert.equal(await detached, 'detached');
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
