import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../common/index.js';
import { parseDnsServers, publishedPorts, requestedOptions } from './container-options.js';

const noFiles = (file: string): string => {
  throw new Error(`unexpected read of ${file}`);
};

function code(error: unknown): string | undefined {
  return error instanceof EngineError ? error.code : undefined;
}

test('flags become typed run options', () => {
  const files: Record<string, string> = { '/a.env': 'A=1\n', '/p.json': '{"defaultAction":"SCMP_ACT_ALLOW"}' };
  const options = requestedOptions(
    {
      image: 'busybox',
      command: ['sh', '-c', 'true'],
      name: 'web.1',
      env: ['X=1'],
      envFile: ['/a.env'],
      memory: '32m',
      memorySwap: '-1',
      cpus: '1.5',
      cpuShares: '512',
      cpusetCpus: '0',
      pidsLimit: '10',
      capAdd: ['net_admin'],
      capDrop: ['CAP_CHOWN'],
      securityOpt: ['seccomp=/p.json', 'no-new-privileges'],
      network: 'host',
      user: 'app:extra',
    },
    (file) => files[file]!,
  );
  assert.equal(options.memory, 32 * 1024 * 1024);
  assert.equal(options.memorySwap, -1);
  assert.equal(options.cpus, 1.5);
  assert.equal(options.cpuShares, 512);
  assert.equal(options.pidsLimit, 10);
  assert.deepEqual(options.capAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(options.capDrop, ['CAP_CHOWN']);
  assert.deepEqual(options.envFiles, ['A=1\n']);
  assert.equal(options.seccompProfileContent, files['/p.json']);
  assert.equal(options.network, 'host');
  assert.equal(options.name, 'web.1');
});

test('the network defaults to bridge, as Docker; named networks and container:NAME pass through', () => {
  assert.equal(requestedOptions({ image: 'x' }, noFiles).network, 'bridge');
  assert.equal(requestedOptions({ image: 'x', network: 'mynet' }, noFiles).network, 'mynet');
  assert.equal(requestedOptions({ image: 'x', network: 'container:web' }, noFiles).network, 'container:web');
  assert.throws(() => requestedOptions({ image: 'x', network: 'container:' }, noFiles), (e: unknown) => code(e) === 'INVALID_ARGUMENT');
  for (const [extra, what] of [[{ hostname: 'h' }, 'hostname'], [{ addHost: ['db:10.0.0.1'] }, 'custom host-to-IP mapping'], [{ dns: ['10.0.0.2'] }, 'dns']] as const) {
    const request = { image: 'x', network: 'container:web', ...extra } as Parameters<typeof requestedOptions>[0];
    assert.throws(() => requestedOptions(request, noFiles), (e: unknown) => code(e) === 'INVALID_ARGUMENT' && (e as Error).message === `conflicting options: ${what} and the network mode`);
  }
});

test('--dns takes IP addresses only', () => {
  assert.deepEqual(parseDnsServers(['10.0.0.2', ' ::1 ']), ['10.0.0.2', '::1']);
  assert.deepEqual(parseDnsServers(undefined), []);
  const request = { image: 'x', dns: ['dns.example'] } as Parameters<typeof requestedOptions>[0];
  assert.throws(() => requestedOptions(request, noFiles), (e: unknown) => code(e) === 'INVALID_ARGUMENT' && /--dns/.test((e as Error).message));
});

test('bad flags are INVALID_ARGUMENT and name the flag', () => {
  const cases: [Parameters<typeof requestedOptions>[0], RegExp][] = [
    [{ image: 'x', memory: 'lots' }, /--memory/],
    [{ image: 'x', memory: '1m' }, /minimum memory limit/],
    [{ image: 'x', cpus: 'two' }, /--cpus/],
    [{ image: 'x', pidsLimit: '1.5' }, /--pids-limit/],
    [{ image: 'x', cpusetCpus: '3-1' }, /reversed/],
    [{ image: 'x', capAdd: ['NOPE'] }, /unknown capability/],
    [{ image: 'x', securityOpt: ['bogus=1'] }, /--security-opt/],
    [{ image: 'x', user: 'a:b:c' }, /--user/],
    [{ image: 'x', name: '/bad name' }, /invalid container name/],
  ];
  for (const [request, message] of cases) {
    assert.throws(() => requestedOptions(request, noFiles), (e: unknown) => code(e) === 'INVALID_ARGUMENT' && message.test((e as Error).message), JSON.stringify(request));
  }
});

test('-P adds the image\'s exposed ports that -p does not publish already', () => {
  const config = JSON.stringify({ config: { ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8080': {}, '443/tcp': {}, 'bogus': {} } } });
  assert.deepEqual(publishedPorts({ publish: ['127.0.0.1:8443:443'] }, config), ['127.0.0.1:8443:443']);
  assert.deepEqual(publishedPorts({ publish: ['127.0.0.1:8443:443'], publishAll: true }, config), ['127.0.0.1:8443:443', '53/udp', '80/tcp', '8080/tcp']);
  assert.deepEqual(publishedPorts({ publishAll: true }, JSON.stringify({ config: {} })), []);
  assert.deepEqual(publishedPorts({ publishAll: true }, 'not json'), []);
});
