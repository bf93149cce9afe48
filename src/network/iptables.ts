/**
 * The plugins' shared iptables chains. Per container, bridge (ipMasq),
 * portmap and firewall add rules and chains that their DEL removes; but the
 * top-level chains they share (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN) and the
 * jumps into them are created once and never deleted by any plugin. When no
 * container of any CNI user is left in them, the engine removes them, so that
 * nothing of the engine stays in the host's rules. Planning here is pure:
 * iptables-save text in, one iptables-restore script per table out (one
 * atomic transaction per table instead of a dozen iptables runs).
 */

/** The shared chains and the only rules they hold when idle (as iptables-save prints them, after `-A CHAIN`). */
const IDLE_RULES: Record<string, RegExp[]> = {
  'CNI-ADMIN': [],
  'CNI-FORWARD': [/-j CNI-ADMIN$/],
  'CNI-HOSTPORT-DNAT': [],
  'CNI-HOSTPORT-MASQ': [/--mark 0x[0-9a-f]+\/0x[0-9a-f]+ -j MASQUERADE$/],
  'CNI-HOSTPORT-SETMARK': [/-j MARK --set-xmark 0x[0-9a-f]+\/0x[0-9a-f]+$/],
};

export interface SavedRule {
  table: string;
  chain: string;
  /** The rule's arguments after `-A CHAIN`, unquoted. */
  args: string[];
  /** The rule as printed after `-A CHAIN `. */
  text: string;
}

export interface SavedTables {
  chains: { table: string; chain: string }[];
  rules: SavedRule[];
}

/** Splits a rule the way a shell would: double quotes group, backslash escapes. */
export function splitRuleArgs(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      started = true;
    } else if (ch === '"') {
      quoted = !quoted;
      started = true;
    } else if (ch === ' ' && !quoted) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) out.push(current);
  return out;
}

export function parseIptablesSave(text: string): SavedTables {
  const chains: SavedTables['chains'] = [];
  const rules: SavedRule[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':')) chains.push({ table, chain: line.slice(1).split(' ')[0]! });
    else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const space = rest.indexOf(' ');
      const chain = space < 0 ? rest : rest.slice(0, space);
      const ruleText = space < 0 ? '' : rest.slice(space + 1);
      rules.push({ table, chain, args: splitRuleArgs(ruleText), text: ruleText });
    }
  }
  return { chains, rules };
}

/** What to feed `iptables-restore --noflush` for one table. */
export interface RestoreScript {
  table: string;
  /** Rule lines (`-D CHAIN ...`, `-F CHAIN`, `-X CHAIN`), without the table header and COMMIT. */
  lines: string[];
}

/** The whole input of iptables-restore for a script. */
export function renderRestoreScript(script: RestoreScript): string {
  return `*${script.table}\n${script.lines.join('\n')}\nCOMMIT\n`;
}

/**
 * The scripts that remove the shared CNI chains and the jumps into them, or
 * [] when any CNI chain still holds a rule for some container (or a chain
 * not known here exists: someone else's).
 */
export function planIdleChainRemoval(saved: SavedTables): RestoreScript[] {
  const cniChains = saved.chains.filter((item) => item.chain.startsWith('CNI-'));
  if (cniChains.length === 0) return [];
  for (const { chain } of cniChains) if (!(chain in IDLE_RULES)) return [];
  for (const rule of saved.rules) {
    if (!rule.chain.startsWith('CNI-')) continue;
    const allowed = IDLE_RULES[rule.chain];
    if (allowed === undefined || !allowed.some((pattern) => pattern.test(rule.text))) return [];
  }
  const scripts = new Map<string, string[]>();
  const add = (table: string, line: string) => {
    if (!scripts.has(table)) scripts.set(table, []);
    scripts.get(table)!.push(line);
  };
  for (const rule of saved.rules) {
    if (rule.chain.startsWith('CNI-')) continue;
    const jump = rule.args.indexOf('-j');
    const target = jump < 0 ? undefined : rule.args[jump + 1];
    // The saved text is already in restore syntax (quotes and escapes included).
    if (target !== undefined && target.startsWith('CNI-')) add(rule.table, `-D ${rule.chain} ${rule.text}`);
  }
  for (const { table, chain } of cniChains) add(table, `-F ${chain}`);
  for (const { table, chain } of cniChains) add(table, `-X ${chain}`);
  return [...scripts].map(([table, lines]) => ({ table, lines }));
}
