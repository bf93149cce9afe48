import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf, planConfList, planLegacyConfList, pluginInput, pluginOrder, usesSharedChains } from './conflist.js';
import { pluginError } from './cni.js';
import type { NetworkDefinition } from './types.js';

const network: NetworkDefinition = { id: 'a'.repeat(64), name: 'web', bridge: 'dctr-aaaaaaaa', subnet: '10.89.0.0/24', gateway: '10.89.0.1' };

test('a container without published ports gets bridge alone, with no NAT of its own; host-local leases under the given dir', () => {
  const list = planConfList(network, { ipamDataDir: '/run/dc/cni/ipam' });
  assert.equal(list.cniVersion, '1.0.0');
  assert.equal(list.name, 'web');
  assert.deepEqual(list.plugins.map((plugin) => plugin.type), ['bridge']);
  assert.deepEqual(list.plugins[0], {
    type: 'bridge',
    bridge: 'dctr-aaaaaaaa',
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/run/dc/cni/ipam' },
  });
  assert.equal(usesSharedChains(list), false);
});

test('a container that publishes ports gets portmap after bridge; never firewall', () => {
  const list = planConfList(network, { ipamDataDir: '/x', publishes: true });
  assert.deepEqual(list.plugins.map((plugin) => plugin.type), ['bridge', 'portmap']);
  assert.equal(list.plugins[0]!.ipMasq, false);
  assert.deepEqual(list.plugins[1], { type: 'portmap', capabilities: { portMappings: true }, snat: true });
  assert.equal(usesSharedChains(list), true);
});

test('an internal network has no gateway role, no NAT, no default route, no portmap', () => {
  const list = planConfList({ ...network, internal: true }, { ipamDataDir: '/x', publishes: true });
  assert.deepEqual(list.plugins.map((plugin) => plugin.type), ['bridge']);
  assert.equal(list.plugins[0]!.ipMasq, false);
  assert.equal(list.plugins[0]!.isGateway, false);
  assert.deepEqual((list.plugins[0]!.ipam as { routes: unknown[] }).routes, []);
});

test('the legacy list (attachments made before the network kept its own rules): bridge with NAT, portmap, firewall', () => {
  const list = planLegacyConfList(network, { ipamDataDir: '/x' });
  assert.deepEqual(list.plugins.map((plugin) => plugin.type), ['bridge', 'portmap', 'firewall']);
  assert.equal(list.plugins[0]!.ipMasq, true);
  assert.deepEqual(list.plugins[2], { type: 'firewall', backend: 'iptables' });
  assert.equal(usesSharedChains(list), true);
  const internal = planLegacyConfList({ ...network, internal: true }, { ipamDataDir: '/x' });
  assert.deepEqual(internal.plugins.map((plugin) => plugin.type), ['bridge', 'firewall']);
  assert.equal(internal.plugins[0]!.ipMasq, false);
});

test('plugin input: list name and version injected, runtimeConfig only for declared capabilities, prevResult passed', () => {
  const list = planConfList(network, { ipamDataDir: '/x', publishes: true });
  const ports = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.89.0.2/24' }] };
  const bridge = pluginInput(list, list.plugins[0]!, { portMappings: ports });
  assert.equal(bridge.name, 'web');
  assert.equal(bridge.cniVersion, '1.0.0');
  assert.equal('runtimeConfig' in bridge, false);
  assert.equal('prevResult' in bridge, false);
  const portmap = pluginInput(list, list.plugins[1]!, { portMappings: ports }, prev);
  assert.deepEqual(portmap.runtimeConfig, { portMappings: ports });
  assert.deepEqual(portmap.prevResult, prev);
  assert.equal('capabilities' in portmap, false);
  assert.equal('runtimeConfig' in pluginInput(list, list.plugins[1]!, {}), false);
});

test('DEL runs the plugins in reverse order', () => {
  const list = planLegacyConfList(network, { ipamDataDir: '/x' });
  assert.deepEqual(pluginOrder(list, 'ADD').map((p) => p.type), ['bridge', 'portmap', 'firewall']);
  assert.deepEqual(pluginOrder(list, 'DEL').map((p) => p.type), ['firewall', 'portmap', 'bridge']);
});

test('the container address and MAC come from the interface the IP names', () => {
  const result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'dctr0', mac: '11:11:11:11:11:11' }, { name: 'veth1', mac: '22:22:22:22:22:22' }, { name: 'eth0', mac: '33:33:33:33:33:33', sandbox: '/proc/1/ns/net' }],
    ips: [{ interface: 2, address: '10.89.0.5/24', gateway: '10.89.0.1' }],
  };
  assert.deepEqual(addressOf(result), { ip: '10.89.0.5', prefix: 24, mac: '33:33:33:33:33:33', gateway: '10.89.0.1' });
  assert.deepEqual(addressOf({ cniVersion: '1.0.0' }), { ip: undefined, prefix: undefined, mac: undefined, gateway: undefined });
});

test('CNI error objects map to engine codes and keep the plugin message', () => {
  const error = pluginError('cni ADD bridge on network web', 1, '{"code":7,"msg":"invalid config","details":"no subnet"}', '');
  assert.equal(error.code, 'INVALID_ARGUMENT');
  assert.equal(error.message, 'cni ADD bridge on network web: invalid config: no subnet (cni error 7)');
  assert.equal(pluginError('x', 1, '{"code":11,"msg":"busy"}', '').code, 'UNAVAILABLE');
  assert.equal(pluginError('x', 1, '{"code":999,"msg":"plugin specific"}', '').code, 'INTERNAL');
  assert.equal(pluginError('x', 2, 'not json', 'panic: boom\nstack').message, 'x: panic: boom');
});
