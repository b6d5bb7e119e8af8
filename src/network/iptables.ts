/**
 * Reading netavark's iptables rules back, for `system check`: netavark marks each port-forwarding rule with
 * `--comment "dnat name: <network> id: <container>"`, and Berth names networks by id, so a rule is attributable to
 * one daemon's network and container. IPv6 networks have the same rules in ip6tables.
 */
import { execFile } from 'node:child_process';

export type Tool = 'iptables' | 'ip6tables';

export interface PortRule {
  /** where the rule is: iptables, or ip6tables for an IPv6 network's */
  tool: Tool;
  chain: string;
  network: string;
  container: string;
  /** The rule as `iptables -S` prints it, without the leading `-A`. */
  spec: string[];
}

function iptables(tool: Tool, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, ['-w', ...args], (err, stdout, stderr) => (err ? reject(new Error(`${tool} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

/** Split an `iptables -S` line as the shell would (double-quoted words, as iptables prints comments). */
export function splitRule(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return words;
}

/** Parse `iptables -t nat -S` (or ip6tables') output into netavark's port rules. */
export function parsePortRules(text: string, tool: Tool = 'iptables'): PortRule[] {
  const out: PortRule[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const words = splitRule(line);
    const comment = words[words.indexOf('--comment') + 1] ?? '';
    const m = /^dnat name: (\S+) id: ([0-9a-f]{64})$/.exec(comment);
    if (m) out.push({ tool, chain: words[1], network: m[1], container: m[2], spec: words.slice(1) });
  }
  return out;
}

export async function portRules(): Promise<PortRule[]> {
  const tools: Tool[] = ['iptables', 'ip6tables'];
  return (await Promise.all(tools.map(async (t) => parsePortRules(await iptables(t, ['-t', 'nat', '-S']).catch(() => ''), t)))).flat();
}

export async function deleteRule(rule: PortRule): Promise<void> {
  await iptables(rule.tool, ['-t', 'nat', '-D', ...rule.spec]);
}
