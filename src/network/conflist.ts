/**
 * The planner: a network -> its CNI configuration list, and a list plus a
 * command -> the exact JSON each plugin reads on stdin. Pure; the executor
 * (cni.ts) carries the plan out.
 *
 *   bridge     veth pair, the host end on the network's bridge, gateway
 *              address on the bridge, NAT (ipMasq) for traffic leaving the host;
 *              host-local IPAM hands out addresses, kept under the run root
 *   portmap    DNAT for published ports (capability portMappings), with SNAT
 *              so that 127.0.0.1 works (it sets route_localnet on the bridge)
 *   firewall   lets forwarded traffic to and from the container through
 */
import path from 'node:path';
import type { PortMapping } from './ports.js';
import type { CniCommand, CniConfList, CniPluginConf, CniResult, NetworkDefinition } from './types.js';

/** The CNI spec version spoken; Debian's plugins 1.1.1 support 0.1.0 to 1.0.0. */
export const CNI_VERSION = '1.0.0';

export interface ConfListOptions {
  /** host-local's store: one directory per network, one file per leased address. */
  ipamDataDir: string;
}

export function planConfList(network: NetworkDefinition, options: ConfListOptions): CniConfList {
  const bridge: CniPluginConf = {
    type: 'bridge',
    bridge: network.bridge,
    isGateway: network.internal !== true,
    ipMasq: network.internal !== true,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
      routes: network.internal === true ? [] : [{ dst: '0.0.0.0/0' }],
      dataDir: options.ipamDataDir,
    },
  };
  const plugins: CniPluginConf[] = [bridge];
  if (network.internal !== true) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  plugins.push({ type: 'firewall', backend: 'iptables' });
  return { cniVersion: CNI_VERSION, name: network.name, plugins };
}

/** The configuration that brings `lo` up in a namespace (the loopback plugin, CNI_IFNAME=lo). */
export function planLoopback(): CniConfList {
  return { cniVersion: CNI_VERSION, name: 'loopback', plugins: [{ type: 'loopback' }] };
}

/** Where host-local keeps the leases of one network. */
export function ipamDirOf(ipamDataDir: string, networkName: string): string {
  return path.join(ipamDataDir, networkName);
}

/** Values for the capabilities a list's plugins may ask for. */
export interface RuntimeConfig {
  portMappings?: PortMapping[];
}

/**
 * The stdin of one plugin of a list (spec: "Deriving execution
 * configuration from plugin configuration"): the plugin's own keys, the
 * list's cniVersion and name, runtimeConfig holding only the capabilities
 * the plugin declares, and prevResult when given.
 */
export function pluginInput(list: CniConfList, plugin: CniPluginConf, runtime: RuntimeConfig, prevResult?: CniResult): Record<string, unknown> {
  const { capabilities, ...own } = plugin;
  const input: Record<string, unknown> = { ...own, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, enabled] of Object.entries(capabilities ?? {})) {
    const value = (runtime as Record<string, unknown>)[capability];
    if (enabled && value !== undefined) runtimeConfig[capability] = value;
  }
  if (Object.keys(runtimeConfig).length > 0) input.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) input.prevResult = prevResult;
  return input;
}

/** The order plugins run in: the list's order for ADD and CHECK, reversed for DEL. */
export function pluginOrder(list: CniConfList, command: CniCommand): CniPluginConf[] {
  return command === 'DEL' ? [...list.plugins].reverse() : [...list.plugins];
}

/** The container's address on the network (without the prefix) and its MAC, from an ADD result. */
export function addressOf(result: CniResult): { ip: string | undefined; prefix: number | undefined; mac: string | undefined; gateway: string | undefined } {
  const first = result.ips?.[0];
  const [ip, prefix] = first === undefined ? [undefined, undefined] : first.address.split('/');
  const sandboxIf = first?.interface === undefined ? result.interfaces?.find((item) => item.sandbox !== undefined) : result.interfaces?.[first.interface];
  return { ip, prefix: prefix === undefined ? undefined : Number(prefix), mac: sandboxIf?.mac, gateway: first?.gateway };
}
