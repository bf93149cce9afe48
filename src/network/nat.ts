/**
 * A network's own host rules, the way Docker keeps them: made once when the
 * network's bridge is made, removed with the network, never touched when a
 * container comes or goes (the per-container plugins do no iptables work
 * unless the container publishes ports).
 *
 *   nat    POSTROUTING  -s SUBNET ! -o BRIDGE -j MASQUERADE
 *                       members reach beyond the host with the host's address
 *                       (not on internal networks)
 *   filter FORWARD      -i BRIDGE -j ACCEPT
 *                       what members send, to each other or out
 *                       -o BRIDGE --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
 *                       the answers, and connections to published ports
 *                       (portmap's DNAT), so that both still pass when the
 *                       policy of FORWARD is DROP (as Docker sets it)
 *          internal:    -i BRIDGE -o BRIDGE -j ACCEPT, and DROP of anything
 *                       else that enters or leaves the bridge: members reach
 *                       only each other
 *
 * The FORWARD rules are inserted at the top (-I), ahead of whatever policy
 * others put there. Each rule carries the comment "didactic-container
 * BRIDGE", which is how removal finds them again in iptables-save's text.
 * Pure: text in, restore scripts (one transaction per table) out.
 */
import { parseIptablesSave, type RestoreScript, type SavedTables } from './iptables.js';
import type { NetworkDefinition } from './types.js';

/** The comment every rule of a network carries: names the engine and the bridge. */
export function ruleComment(bridge: string): string {
  return `didactic-container ${bridge}`;
}

/** One rule of a network, for the plan and for --explain. */
export interface NetworkRule {
  table: 'nat' | 'filter';
  chain: string;
  /** -A (append) or -I (insert at the top). */
  op: '-A' | '-I';
  /** The match and target, the comment included, each argument unquoted. */
  args: string[];
  /** What it is for, in words. */
  say: string;
}

/** The rules a network needs (MASQUERADE, FORWARD accepts or internal isolation). */
export function planNetworkRules(network: Pick<NetworkDefinition, 'bridge' | 'subnet' | 'internal'>): NetworkRule[] {
  const bridge = network.bridge;
  const comment = ['-m', 'comment', '--comment', ruleComment(bridge)];
  if (network.internal === true) {
    return [
      { table: 'filter', chain: 'FORWARD', op: '-I', args: ['-i', bridge, '-o', bridge, ...comment, '-j', 'ACCEPT'], say: `let members of ${bridge} reach each other` },
      { table: 'filter', chain: 'FORWARD', op: '-I', args: ['-i', bridge, '!', '-o', bridge, ...comment, '-j', 'DROP'], say: `internal network: drop what its members send anywhere but ${bridge}` },
      { table: 'filter', chain: 'FORWARD', op: '-I', args: ['!', '-i', bridge, '-o', bridge, ...comment, '-j', 'DROP'], say: `internal network: drop what reaches ${bridge} from elsewhere` },
    ];
  }
  return [
    {
      table: 'nat',
      chain: 'POSTROUTING',
      op: '-A',
      args: ['-s', network.subnet, '!', '-o', bridge, ...comment, '-j', 'MASQUERADE'],
      say: `masquerade what ${network.subnet} sends out of the host (any interface but ${bridge}) behind the host's address`,
    },
    { table: 'filter', chain: 'FORWARD', op: '-I', args: ['-i', bridge, ...comment, '-j', 'ACCEPT'], say: `let through what members of ${bridge} send` },
    {
      table: 'filter',
      chain: 'FORWARD',
      op: '-I',
      args: ['-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', ...comment, '-j', 'ACCEPT'],
      say: `let through to ${bridge} the answers to its members and connections to their published ports`,
    },
  ];
}

/** An argument as iptables-save prints it: quoted when it holds a space or a quote. */
function quoteArg(arg: string): string {
  return /^[^\s"\\]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`;
}

/** The rule as one iptables command line, for --explain. */
export function ruleCommandLine(rule: Pick<NetworkRule, 'table' | 'chain' | 'op' | 'args'>): string {
  return `iptables -t ${rule.table} ${rule.op} ${rule.chain} ${rule.args.map(quoteArg).join(' ')}`;
}

/** One restore script per table (nat first) adding the rules. */
export function planRuleAddition(rules: readonly NetworkRule[]): RestoreScript[] {
  const scripts = new Map<string, string[]>();
  for (const rule of rules) {
    if (!scripts.has(rule.table)) scripts.set(rule.table, []);
    scripts.get(rule.table)!.push(`${rule.op} ${rule.chain} ${rule.args.map(quoteArg).join(' ')}`);
  }
  return [...scripts].map(([table, lines]) => ({ table, lines }));
}

/** The rules of iptables-save's text that carry a bridge's comment, for removal. */
export function findNetworkRules(saved: SavedTables | string, bridge: string): { table: string; chain: string; text: string }[] {
  const tables = typeof saved === 'string' ? parseIptablesSave(saved) : saved;
  const comment = ruleComment(bridge);
  return tables.rules.filter((rule) => rule.args.some((arg, i) => arg === comment && rule.args[i - 1] === '--comment'));
}

/** One restore script per table deleting the given saved rules ([] when none). */
export function planRuleRemoval(found: readonly { table: string; chain: string; text: string }[]): RestoreScript[] {
  const scripts = new Map<string, string[]>();
  for (const rule of found) {
    if (!scripts.has(rule.table)) scripts.set(rule.table, []);
    // The saved text is already in restore syntax (quotes and escapes included).
    scripts.get(rule.table)!.push(`-D ${rule.chain} ${rule.text}`);
  }
  return [...scripts].map(([table, lines]) => ({ table, lines }));
}

/**
 * Replacing a network's rules in one transaction per table: whatever rules
 * with its comment are there (left by a crash, or by an earlier bridge of the
 * same name) go, the planned ones come. A table's script deletes before it adds.
 */
export function planRuleReplacement(saved: SavedTables | string, network: Pick<NetworkDefinition, 'bridge' | 'subnet' | 'internal'>): RestoreScript[] {
  const scripts = new Map<string, string[]>();
  for (const script of [...planRuleRemoval(findNetworkRules(saved, network.bridge)), ...planRuleAddition(planNetworkRules(network))]) {
    scripts.set(script.table, [...(scripts.get(script.table) ?? []), ...script.lines]);
  }
  return [...scripts].map(([table, lines]) => ({ table, lines }));
}
