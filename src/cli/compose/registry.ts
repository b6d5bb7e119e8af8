/**
 * `compose pull` and `compose push` as compose v2: pull every selected service's `image` (pull_policy and buildable
 * images considered), push the images of services that are built and name an `image`; one line per service, the
 * registry's own progress hidden.
 */
import { EngineError } from '../../client/engine';
import type { FlagSpec } from '../flags';
import { parseRef, pullImage } from '../commands/pull';
import { pushImage } from '../commands/push';
import { event } from './engine';
import type { Project } from './loader';
import { selectServices } from './up';
import type { SubCommand } from './commands';

const bool = (name: string, usage: string, short?: string): FlagSpec => ({ name, short, kind: 'bool', usage });

/** Why `service` is not pulled, or undefined to pull it (`present`: its image exists locally). */
export function pullSkip(p: Project, service: string, present: boolean, ignoreBuildable: boolean): string | undefined {
  const svc = p.model.services[service];
  if (!svc.image) return 'Skipped - No image to be pulled';
  const policy = svc.pull_policy as string | undefined;
  if (policy === 'never' || policy === 'build') return 'Skipped';
  if ((policy === 'missing' || policy === 'if_not_present') && present) return 'Skipped - Image is already present locally';
  if (svc.build && ignoreBuildable) return 'Skipped - Image can be built';
  return undefined;
}

export const pullCommand: SubCommand = {
  use: 'pull [OPTIONS] [SERVICE...]', short: 'Pull service images',
  flags: [bool('ignore-buildable', 'Ignore images that can be built'), bool('ignore-pull-failures', 'Pull what it can and ignores images with pull failures'),
    bool('include-deps', 'Also pull services declared as dependencies'), bool('quiet', 'Pull without printing progress information', 'q')],
  async run(env, o) {
    const v = o.values as Record<string, boolean>;
    const p = env.load();
    const client = await env.ctx.client();
    const say = (id: string, what: string): void => (v.quiet ? undefined : event(id, what));
    const pulled = new Set<string>();
    const mustBuild: string[] = [];
    for (const s of selectServices(p, o.args, v['include-deps'])) {
      const image = String(p.model.services[s].image ?? '');
      const present = !!image && await client.request('GET', `/images/${encodeURIComponent(image)}/json`).then(() => true, (e) => {
        if (e instanceof EngineError && e.status === 404) return false;
        throw e;
      });
      const skip = pullSkip(p, s, present, v['ignore-buildable']);
      if (skip) { say(s, skip); continue; }
      if (pulled.has(image)) continue;
      pulled.add(image);
      say(s, 'Pulling');
      try {
        await pullImage(client, parseRef(image), { quiet: true });
        say(s, 'Pulled');
      } catch (e) {
        say(s, `Error ${(e as Error).message}`);
        // an image that can be built is no failure: compose says to build it
        if (p.model.services[s].build) mustBuild.push(s);
        else if (!v['ignore-pull-failures']) throw e;
      }
    }
    if (mustBuild.length) process.stderr.write(`WARN[0000] WARNING: Some service image(s) must be built from source by running:\n    berth compose build ${mustBuild.join(' ')}\n`);
  },
};

export const pushCommand: SubCommand = {
  use: 'push [OPTIONS] [SERVICE...]', short: 'Push service images',
  flags: [bool('ignore-push-failures', 'Push what it can and ignores images with push failures'),
    bool('include-deps', 'Also push images of services declared as dependencies'), bool('quiet', 'Push without printing progress information', 'q')],
  async run(env, o) {
    const v = o.values as Record<string, boolean>;
    const p = env.load();
    const client = await env.ctx.client();
    const say = (id: string, what: string): void => (v.quiet ? undefined : event(id, what));
    for (const s of selectServices(p, o.args, v['include-deps'])) {
      const svc = p.model.services[s];
      if (!svc.build || !svc.image) { say(s, 'Skipped'); continue; }
      const image = String(svc.image);
      say(`Pushing ${image}`, 'Pushing');
      try {
        await pushImage(client, parseRef(image), { quiet: true });
        say(`Pushing ${image}`, 'Pushed');
      } catch (e) {
        if (!v['ignore-push-failures']) throw e;
        say(`Pushing ${image}`, `Error ${(e as Error).message}`);
      }
    }
  },
};
