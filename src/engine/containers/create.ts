/** docker create: the name, the checks of the body against this host and Berth's state, and the new record. */
import type { CreateBody } from '../../schema/container';
import { badRequest } from '../../common/errors';
import { newId, shortId } from '../../common/ids';
import type { RuntimeName } from '../../runtime/types';
import type { ImageSource } from '../images';
import type { UsernsRemap } from '../userns';
import type { VolumeService } from '../volumes';
import { checkDevices, createHost } from './bundle';
import { recordedConfig } from './config';
import { checkHostConfig } from './limits';
import { normalizeLinks } from './links';
import { resolveLogConfig } from './log-rotate';
import { nameInUse, randomName, VALID_NAME } from './names';
import type { ContainerNetworking } from './network';
import { normalizeCreate, withImageConfig } from './normalize';
import { initialState, type ContainerRecord, type ContainerStore } from './record';

export interface CreateDeps {
  store: ContainerStore;
  images: ImageSource;
  defaultRuntime: RuntimeName;
  networking: ContainerNetworking;
  volumes: VolumeService;
  /** The daemon's `--log-opt` defaults for json-file logs. */
  logOpts?: Record<string, string>;
}

/**
 * The record of a new container (not saved yet) and docker's warnings; `remap` tells whether it would run remapped,
 * `platform` (create?platform=) which image of a multi-platform one it runs.
 */
export function newRecord(
  d: CreateDeps, body: CreateBody, requestedName: string | null, remap: (hc: ContainerRecord['HostConfig']) => UsernsRemap | undefined,
  platform?: string,
): { rec: ContainerRecord; warnings: string[] } {
  if (!body.Image) throw badRequest('Config cannot be empty in order to create a container');
  let name = requestedName ?? '';
  if (name) {
    if (!VALID_NAME.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    name = name.replace(/^\//, '');
    const holder = d.store.byName(name);
    if (holder) throw nameInUse(name, holder.Id);
  } else {
    name = randomName((n) => d.store.byName(n) !== undefined);
  }
  const runtime = (body.HostConfig?.Runtime || d.defaultRuntime) as RuntimeName;
  if (runtime !== 'crun' && runtime !== 'runc') throw badRequest(`unknown or invalid runtime name: ${runtime}`);
  const hostConfig = {
    NetworkMode: 'default', ...body.HostConfig, Runtime: runtime, LogConfig: resolveLogConfig(body.HostConfig?.LogConfig, d.logOpts ?? {}),
  };
  const warnings = checkHostConfig(hostConfig);
  const spec = normalizeCreate({ ...body, HostConfig: hostConfig }, createHost);
  const image = platform ? d.images.forPlatform(body.Image, platform) : d.images.get(body.Image);
  d.networking.validate(spec, body.NetworkingConfig?.EndpointsConfig as ContainerRecord['EndpointsConfig']);
  hostConfig.Links = normalizeLinks(hostConfig.Links, spec.network, '/' + name, d.store);
  if (hostConfig.Privileged && remap(hostConfig)) {
    throw badRequest('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
  }
  checkDevices(hostConfig);
  d.volumes.prepareCreate(spec);
  const id = newId();
  const merged = recordedConfig(body, d.images.config(image.id), shortId(id));
  const rec: ContainerRecord = {
    Id: id,
    Name: '/' + name,
    Created: new Date().toISOString(),
    Path: merged.command[0],
    Args: merged.command.slice(1),
    Config: merged.config,
    HostConfig: hostConfig,
    Spec: withImageConfig(spec, merged.config),
    Image: image.id,
    State: initialState(),
    RestartCount: 0,
    Runtime: runtime,
    EndpointsConfig: body.NetworkingConfig?.EndpointsConfig as ContainerRecord['EndpointsConfig'],
  };
  return { rec, warnings };
}
