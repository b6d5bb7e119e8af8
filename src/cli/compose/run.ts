/** `compose run`: a one-off container of a service (labelled oneoff=True), its dependencies brought up first. */
import { randomBytes } from 'node:crypto';
import type { FlagSpec } from '../flags';
import { parsePortSpec } from '../commands/container-opts';
import { attachWaitStart } from '../commands/run';
import { createBody, L, serviceNetworks } from './convert';
import { ensureNetworks, ensureVolumes, injectFiles } from './engine';
import type { Obj } from './loader';
import { imageId, selectServices, up, type UpOptions } from './up';
import type { SubCommand } from './commands';

const bool = (name: string, usage: string, short?: string): FlagSpec => ({ name, short, kind: 'bool', usage });

export const runCommand: SubCommand = {
  use: 'run [OPTIONS] SERVICE [COMMAND] [ARGS...]', short: 'Run a one-off command on a service', interspersed: false,
  flags: [bool('rm', 'Automatically remove the container when it exits'), bool('detach', 'Run container in background and print container ID', 'd'),
    bool('no-deps', "Don't start linked services"), bool('service-ports', "Run command with all service's ports enabled and mapped to the host"),
    bool('no-TTY', 'Disable pseudo-TTY allocation (default: auto-detected)', 'T'), bool('build', 'Build image before starting container'),
    { name: 'env', short: 'e', kind: 'list', usage: 'Set environment variables' }, { name: 'publish', short: 'p', kind: 'list', usage: "Publish a container's port(s) to the host" },
    { name: 'user', short: 'u', kind: 'string', usage: 'Run as specified username or uid' }, { name: 'workdir', short: 'w', kind: 'string', usage: 'Working directory inside the container' },
    { name: 'name', kind: 'string', usage: 'Assign a name to the container' }, { name: 'entrypoint', kind: 'string', usage: 'Override the entrypoint of the image' }],
  async run(env, o) {
    const v = o.values as Record<string, string | boolean | string[]> & { env: string[]; publish: string[]; rm: boolean; build: boolean; detach: boolean; entrypoint: string; user: string; workdir: string; name: string };
    const [service, ...cmd] = o.args;
    if (!service) throw new Error('"berth compose run" requires at least 1 argument.');
    const p = env.load();
    if (!p.model.services[service]) throw new Error(`no such service: ${service}`);
    const client = await env.ctx.client();
    const opts: UpOptions = {
      build: v.build, forceRecreate: false, noRecreate: false, noStart: false, removeOrphans: false, scale: {}, noDeps: false,
      services: v['no-deps'] ? [] : selectServices(p, [service], true).filter((s) => s !== service),
      buildImage: async () => { throw new Error(`image for service ${service} must be built first: berth compose build ${service}`); },
    };
    if (opts.services.length) await up(client, p, opts);
    await ensureNetworks(client, p);
    await ensureVolumes(client, p);
    const body = createBody(p, service, 1, await imageId(client, p, service, opts), true) as Obj & { HostConfig: Obj; Labels: Record<string, string> };
    const tty = !v['no-TTY'] && !!process.stdin.isTTY && !v.detach;
    Object.assign(body, { Tty: tty, OpenStdin: !v.detach, StdinOnce: !v.detach, AttachStdin: !v.detach, AttachStdout: !v.detach, AttachStderr: !v.detach });
    if (cmd.length) body.Cmd = cmd;
    if (v.entrypoint) body.Entrypoint = [v.entrypoint];
    if (v.user) body.User = v.user;
    if (v.workdir) body.WorkingDir = v.workdir;
    body.Env = [...(body.Env as string[]), ...v.env.map((e) => (e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`))];
    body.HostConfig.AutoRemove = v.rm;
    const bindings: Record<string, Obj[]> = v['service-ports'] ? (body.HostConfig.PortBindings as Record<string, Obj[]>) : {};
    for (const spec of v.publish) for (const { port, binding } of parsePortSpec(spec)) (bindings[port] ??= []).push(binding);
    body.HostConfig.PortBindings = bindings;
    const name = v.name || `${p.name}-${service}-run-${randomBytes(6).toString('hex')}`;
    body.Labels[L.oneoff] = 'True';
    const { Id } = await client.request<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    await injectFiles(client, p, service, Id);
    for (const [net, ep] of serviceNetworks(p, service).slice(1)) {
      await client.request('POST', `/networks/${encodeURIComponent(net)}/connect`, { body: { Container: Id, EndpointConfig: ep } });
    }
    if (v.detach) {
      await client.request('POST', `/containers/${Id}/start`);
      process.stdout.write(`${name}\n`);
      return 0;
    }
    return attachWaitStart(env.ctx, { id: Id, tty, stdin: true, stdout: true, stderr: true, autoRemove: v.rm, sigProxy: true }, (e) => e as Error);
  },
};
