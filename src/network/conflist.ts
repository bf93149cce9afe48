/**
 * The planner: a container on a network -> its CNI configuration list, and a
 * list plus a command -> the exact JSON each plugin reads on stdin. Pure; the
 * executor (cni.ts) carries the plan out.
 *
 * The list is per container, and holds only what that container needs, the
 * way Docker splits the work: what every member of a network shares (NAT of
 * the subnet, the FORWARD accepts) is the network's, made once with its bridge
 * by the engine (nat.ts), not by a plugin at each container.
 *
 *   bridge     veth pair, the host end on the network's bridge, gateway
 *              address on the bridge; no ipMasq (the network's MASQUERADE
 *              rule covers the whole subnet); host-local IPAM hands out
 *              addresses, kept under the run root
 *   portmap    only when the container publishes ports: DNAT for them
 *              (capability portMappings), with SNAT so that 127.0.0.1 works
 *              (it sets route_localnet on the bridge)
 *
 * The list ADD used is stored with the attachment and given back to DEL.
 * Attachments made before this split have none stored: planLegacyConfList is
 * the list they were made with (bridge with ipMasq, portmap, firewall), so
 * their DEL still removes every per-container rule.
 */
import path from 'node:path';
import type { PortMapping } from './ports.js';
import type { CniCommand, CniConfList, CniPluginConf, CniResult, NetworkDefinition } from './types.js';

/** The CNI spec version spoken; Debian's plugins 1.1.1 support 0.1.0 to 1.0.0. */
export const CNI_VERSION = '1.0.0';

export interface ConfListOptions {
  /** host-local's store: one directory per network, one file per leased address. */
  ipamDataDir: string;
  /** The container publishes ports: portmap joins the list (never on an internal network). */
  publishes?: boolean;
}

function bridgePlugin(network: NetworkDefinition, options: ConfListOptions, ipMasq: boolean): CniPluginConf {
  return {
    type: 'bridge',
    bridge: network.bridge,
    isGateway: network.internal !== true,
    ipMasq,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
      routes: network.internal === true ? [] : [{ dst: '0.0.0.0/0' }],
      dataDir: options.ipamDataDir,
    },
  };
}

const PORTMAP: CniPluginConf = { type: 'portmap', capabilities: { portMappings: true }, snat: true };

/** One container's list: bridge, then portmap when it publishes ports. */
export function planConfList(network: NetworkDefinition, options: ConfListOptions): CniConfList {
  const plugins: CniPluginConf[] = [bridgePlugin(network, options, false)];
  if (network.internal !== true && options.publishes === true) plugins.push({ ...PORTMAP });
  return { cniVersion: CNI_VERSION, name: network.name, plugins };
}

/**
 * The list every attachment was made with before the network's rules moved
 * to the engine: bridge with per-container NAT, portmap always (not on
 * internal networks), firewall. DEL of such an attachment needs it whole.
 */
export function planLegacyConfList(network: NetworkDefinition, options: Pick<ConfListOptions, 'ipamDataDir'>): CniConfList {
  const plugins: CniPluginConf[] = [bridgePlugin(network, options, network.internal !== true)];
  if (network.internal !== true) plugins.push({ ...PORTMAP });
  plugins.push({ type: 'firewall', backend: 'iptables' });
  return { cniVersion: CNI_VERSION, name: network.name, plugins };
}

/**
 * Plugins whose DEL leaves the shared CNI chains behind (CNI-HOSTPORT-*,
 * CNI-FORWARD, CNI-ADMIN): after a DEL that ran one of them, the engine
 * looks for idle shared chains to remove.
 */
export function usesSharedChains(list: CniConfList): boolean {
  return list.plugins.some((plugin) => plugin.type === 'portmap' || plugin.type === 'firewall');
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
