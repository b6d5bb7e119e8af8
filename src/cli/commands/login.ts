/** login / logout: credentials checked by the daemon (POST /auth), stored in ~/.docker/config.json as docker does. */
import type { AuthConfig } from '../../registry/client/auth';
import { DockerConfig, INDEX_SERVER, serverKey } from '../../registry/client/dockerconfig';
import { StatusError, type Command } from '../cli';

/** Read a line from the terminal; `secret` turns echo off. */
function prompt(question: string, secret: boolean): Promise<string> {
  const stdin = process.stdin;
  process.stdout.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    if (secret) stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error): void => {
      if (secret) stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      if (secret) process.stdout.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new StatusError(130, ''));
        if (ch === '\u007f') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const c of process.stdin) s += (c as Buffer).toString('utf8');
  return s.replace(/\r?\n$/, '');
}

export const login: Command = {
  use: 'login [OPTIONS] [SERVER]',
  short: 'Log in to a registry',
  flags: [
    { name: 'password', short: 'p', kind: 'string', usage: 'Password' },
    { name: 'password-stdin', kind: 'bool', usage: 'Take the password from stdin' },
    { name: 'username', short: 'u', kind: 'string', usage: 'Username' },
  ],
  args: [0, 1],
  async run(ctx, o) {
    const server = o.args[0] || INDEX_SERVER;
    let username = o.values.username as string;
    let password = o.values.password as string;
    if (password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (o.values['password-stdin']) {
      if (password) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
      if (!username) throw new StatusError(1, 'Must provide --username with --password-stdin');
      password = await readStdin();
    }
    const config = new DockerConfig();
    let auth: AuthConfig;
    if (!username && !password) {
      const stored = config.get(server);
      if (stored.username || stored.identitytoken) auth = { ...stored, serveraddress: server };
      else {
        if (!process.stdin.isTTY) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
        username = (await prompt('Username: ', false)).trim();
        if (!username) throw new StatusError(1, 'Error: Non-null Username Required');
        password = await prompt('Password: ', true);
        auth = { username, password, serveraddress: server };
      }
    } else {
      if (!password) {
        if (!process.stdin.isTTY) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
        password = await prompt('Password: ', true);
      }
      if (!password) throw new StatusError(1, 'Error: Password Required');
      auth = { username, password, serveraddress: server };
    }
    const res = await (await ctx.client()).request<{ Status: string; IdentityToken?: string }>('POST', '/auth', { body: auth });
    const saved = config.store(server, res?.IdentityToken ? { identitytoken: res.IdentityToken } : auth);
    if (!saved.helper) {
      process.stderr.write(`WARNING! Your password will be stored unencrypted in ${config.file}.\n` +
        'Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n');
    }
    process.stdout.write(`${res?.Status || 'Login Succeeded'}\n`);
  },
};

export const logout: Command = {
  use: 'logout [SERVER]',
  short: 'Log out from a registry',
  flags: [],
  args: [0, 1],
  async run(_ctx, o) {
    const key = serverKey(o.args[0] || INDEX_SERVER);
    if (!new DockerConfig().erase(key)) {
      process.stdout.write(`Not logged in to ${key}\n`);
      return;
    }
    process.stdout.write(`Removing login credentials for ${key}\n`);
  },
};
