/**
 * The CNI runtime side: network definitions -> CNI configuration lists
 * (planner), plugin calls ADD/CHECK/DEL (executor over sys/), port
 * publishing, subnets, the hosts files of network members, and each
 * network's own NAT and FORWARD rules (planned as iptables-restore text).
 */
export * from './types.js';
export * from './ipv4.js';
export * from './routes.js';
export * from './ports.js';
export * from './conflist.js';
export * from './cni.js';
export * from './hosts.js';
export * from './iptables.js';
export * from './nat.js';
