/**
 * A real terminal for interactive tests: tmux runs a shell on its own pty (private server socket), we type into it
 * (send-keys) and read the screen (capture-pane). kill() removes the tmux server.
 */
import { spawnSync } from 'node:child_process';

export const HAVE_TMUX = spawnSync('tmux', ['-V']).status === 0;

/** One tmux server (own socket) with one window running bash with a plain `$ ` prompt. */
export class Term {
  private readonly sock: string;
  constructor(name: string, env: NodeJS.ProcessEnv) {
    this.sock = `berth-test-${name}-${process.pid}`;
    const names = ['DOCKER_HOST', 'DOCKER_CONFIG', 'PATH', 'HOME', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT'];
    // set by env(1), not tmux -e: a PATH given with -e does not reach the shell
    const vars = names.filter((k) => k === 'DOCKER_HOST' || env[k] !== undefined).map((k) => `${k}=${env[k] ?? ''}`);
    this.tmux(['new-session', '-d', '-s', 't', '-x', '100', '-y', '30', 'env', ...vars, 'PS1=$ ', 'TERM=xterm', 'bash', '--norc', '--noprofile']);
  }

  tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.sock, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Types text literally, then Enter. */
  line(text: string): void {
    this.tmux(['send-keys', '-t', 't', '-l', text]);
    this.tmux(['send-keys', '-t', 't', 'Enter']);
  }

  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 't', ...keys]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 't']);
  }

  /** Clears screen and history, and waits for the bare prompt. */
  async clear(): Promise<void> {
    this.line('clear');
    const deadline = Date.now() + 10_000;
    while (this.tmux(['capture-pane', '-p', '-t', 't']).trim() !== '$') {
      if (Date.now() > deadline) throw new Error(`clear did not clear:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.tmux(['clear-history', '-t', 't']);
  }

  /**
   * Waits for bash's prompt on a line of its own (or right after the container's prompt, where a detach leaves the
   * cursor): the command typed after the last clear has ended.
   */
  async prompt(): Promise<void> {
    await this.waitFor(/^(\/ # )?\$\s*$/m);
  }

  /** Waits until the screen matches; returns the match. */
  async waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.screen().match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`screen never matched ${re}:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs a host-shell command and returns its exit status (the line `rc=N` it prints). */
  async status(cmd: string, tag: string): Promise<number> {
    this.line(`${cmd}; echo ${tag}=$?`);
    return Number((await this.waitFor(new RegExp(`^${tag}=(\\d+)$`, 'm')))[1]);
  }

  resize(cols: number, rows: number): void {
    this.tmux(['resize-window', '-t', 't', '-x', String(cols), '-y', String(rows)]);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.sock, 'kill-server']);
  }
}


/**
 * `berth run -it` and `berth exec -it` at a real terminal with `env` (whatever transport its DOCKER_HOST names): a
 * shell in a container answers typed input, and exits with the status typed. Throws what the screen showed.
 */
export async function interactiveSession(name: string, env: NodeJS.ProcessEnv, berth: string): Promise<void> {
  const t = new Term(name, env);
  try {
    t.line(`${berth} run -it --rm --name ${name} busybox sh`);
    await t.waitFor(/^\/ # $/m, 20_000);
    t.line('echo $((6*7)) $(tty)');
    await t.waitFor(/^42 \/dev\/pts\/\d+\s*$/m);
    t.line('exit 5');
    await t.waitFor(/^\$\s*$/m, 20_000);
    t.line('echo rc=$?');
    await t.waitFor(/^rc=5$/m);
    t.line(`${berth} run -d --name ${name}-x busybox sleep 60 >/dev/null && ${berth} exec -it ${name}-x sh`);
    await t.waitFor(/^\/ # $/m, 20_000);
    t.line('echo in-exec-$((1+1))');
    await t.waitFor(/^in-exec-2\s*$/m);
    t.line('exit');
    await t.waitFor(/^\/ # exit\s*\n\$\s*$/m, 20_000); // back at the host shell's prompt
  } finally {
    t.kill();
    spawnSync(berth, ['rm', '-f', `${name}-x`], { env });
  }
}
