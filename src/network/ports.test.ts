import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { formatPortMapping, parsePublish, parsePublishList } from './ports.js';

test('-p spellings', () => {
  assert.deepEqual(parsePublish('80'), [{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('8080:80'), [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80/udp'), [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('0.0.0.0:53:53/UDP'), [{ hostIp: '', hostPort: 53, containerPort: 53, protocol: 'udp' }]);
  assert.deepEqual(parsePublish('8000-8001:80-81').map((p) => `${p.hostPort}:${p.containerPort}`), ['8000:80', '8001:81']);
});

test('-p refusals say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['80:99999', /container port 99999 is out of range/],
    ['0:80', /host port 0 is out of range/],
    ['80/sctp', /protocol "sctp" is not tcp or udp/],
    ['x:80', /host port "x" is not a port/],
    ['300.1.1.1:80:80', /host address "300.1.1.1"/],
    ['8000-8002:80-81', /ranges differ in length/],
    ['::1:80:80', /too many colons/],
    ['90-80:90-80', /ends before it starts/],
  ];
  for (const [spec, pattern] of cases) {
    assert.throws(() => parsePublish(spec), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT') && pattern.test(error.message), spec);
  }
  assert.throws(() => parsePublishList(['8080:80', '8080:81']), /host port 8080\/tcp is given twice/);
  assert.equal(parsePublishList(['8080:80', '8080:80/udp', '80', '80']).length, 4);
});

test('Docker text of a mapping', () => {
  assert.equal(formatPortMapping({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '0.0.0.0:8080->80/tcp');
  assert.equal(formatPortMapping({ hostIP: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' }), '127.0.0.1:53->53/udp');
});
