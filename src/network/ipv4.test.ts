import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { cidrsOverlap, defaultSubnetCandidates, formatCidr, formatIpv4, gatewayFor, parseCidr, parseIpv4, pickFreeSubnet } from './ipv4.js';
import { parseProcRoutes } from './routes.js';

test('addresses round-trip and bad ones are refused', () => {
  assert.equal(parseIpv4('10.88.0.1'), 0x0a580001);
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
  assert.equal(formatIpv4(parseIpv4('192.168.1.254')!), '192.168.1.254');
  for (const bad of ['10.88.0', '10.88.0.256', '1.2.3.4.5', 'a.b.c.d', '', '01234.1.1.1']) assert.equal(parseIpv4(bad), undefined, bad);
});

test('CIDR blocks: parse, host bits refused with a hint, overlap', () => {
  assert.equal(formatCidr(parseCidr('10.89.3.0/24')), '10.89.3.0/24');
  assert.throws(() => parseCidr('10.89.3.1/24'), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT') && error.hint === 'did you mean 10.89.3.0/24?');
  assert.throws(() => parseCidr('10.89.3.0/33'), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT'));
  assert.throws(() => parseCidr('nonsense'), /not an IPv4 CIDR block/);
  assert.ok(cidrsOverlap(parseCidr('10.0.0.0/8'), parseCidr('10.89.0.0/24')));
  assert.ok(cidrsOverlap(parseCidr('10.89.0.0/24'), parseCidr('10.0.0.0/8')));
  assert.ok(!cidrsOverlap(parseCidr('10.89.0.0/24'), parseCidr('10.89.1.0/24')));
  assert.ok(cidrsOverlap(parseCidr('0.0.0.0/0'), parseCidr('192.0.2.0/24')));
});

test('gateway: the first host address by default; a given one must be a host address of the subnet', () => {
  assert.equal(gatewayFor(parseCidr('10.89.0.0/24')), '10.89.0.1');
  assert.equal(gatewayFor(parseCidr('10.89.0.0/24'), '10.89.0.254'), '10.89.0.254');
  for (const bad of ['10.89.1.1', '10.89.0.0', '10.89.0.255', 'x']) {
    assert.throws(() => gatewayFor(parseCidr('10.89.0.0/24'), bad), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT'), bad);
  }
  assert.throws(() => gatewayFor(parseCidr('10.89.0.0/31')), /too small/);
});

test('a free subnet skips taken blocks and routes', () => {
  const taken = [parseCidr('10.88.0.0/16'), parseCidr('10.87.0.0/24')];
  assert.equal(formatCidr(pickFreeSubnet(defaultSubnetCandidates('default'), taken)!), '10.87.1.0/24');
  assert.equal(formatCidr(pickFreeSubnet(defaultSubnetCandidates('user'), [parseCidr('10.89.0.0/23')])!), '10.89.2.0/24');
  assert.equal(pickFreeSubnet(defaultSubnetCandidates('user'), [parseCidr('10.0.0.0/8')]), undefined);
});

test('/proc/net/route is read in host byte order, without the default route', () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'dctr0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(
    parseProcRoutes(text).map((route) => `${route.device} ${formatCidr(route.destination)}`),
    ['eth0 192.0.2.0/24', 'dctr0 10.88.0.0/16'],
  );
});
