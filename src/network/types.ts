/** The shapes the network module works with. */

/** A network as the engine keeps it (one row of the networks table). */
export interface NetworkDefinition {
  /** 64 hex characters. */
  id: string;
  name: string;
  /** The Linux bridge device: dctr0 for the default network, dctr-<id8> for user networks. */
  bridge: string;
  /** IPv4 CIDR, e.g. 10.89.0.0/24. */
  subnet: string;
  gateway: string;
  /** No route out and no NAT: members reach only each other. */
  internal?: boolean;
}

/** A network configuration list (CNI spec 1.0, "conflist"). */
export interface CniConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

/** One plugin's configuration; `type` names its binary. */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A plugin's success result (CNI spec 1.0). */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string; mtu?: number }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  [key: string]: unknown;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** The runtime side's per-call arguments, passed to plugins as CNI_* variables. */
export interface CniInvocation {
  containerId: string;
  /** Path of the container's network namespace, e.g. /proc/<pid>/ns/net or a pinned bind mount. */
  netns: string;
  ifname: string;
}
