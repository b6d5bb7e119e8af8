/** The Config docker records for a container: the create body merged over the image's config. */
import type { CreateBody } from '../../schema/container';
import { badRequest } from '../../common/errors';
import type { ImageConfig } from '../../image/types';
import { mergeConfig, processArgs } from '../../spec/command';
import type { ContainerCfg } from './record';

/** Named apart from spec/command.ts `mergeConfig`, which merges the process part only and is used here. */
export function recordedConfig(body: CreateBody, image: ImageConfig, defaultHostname: string): { config: ContainerCfg; command: string[] } {
  const img = image.config ?? {};
  let merged;
  try {
    merged = mergeConfig(body, img);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const config: ContainerCfg = {
    Hostname: body.Hostname || defaultHostname,
    Domainname: body.Domainname ?? '',
    User: merged.User,
    AttachStdin: !!body.AttachStdin,
    AttachStdout: !!body.AttachStdout,
    AttachStderr: !!body.AttachStderr,
    ExposedPorts: { ...img.ExposedPorts, ...body.ExposedPorts },
    Tty: !!body.Tty,
    OpenStdin: !!body.OpenStdin,
    StdinOnce: !!body.StdinOnce,
    Env: merged.Env,
    Cmd: merged.Cmd,
    Image: body.Image ?? '',
    Volumes: { ...img.Volumes, ...body.Volumes },
    WorkingDir: merged.WorkingDir,
    Entrypoint: merged.Entrypoint,
    OnBuild: null,
    Labels: { ...img.Labels, ...body.Labels },
    StopSignal: body.StopSignal || img.StopSignal,
    StopTimeout: (body as { StopTimeout?: number }).StopTimeout,
    MacAddress: (body as { MacAddress?: string }).MacAddress || undefined,
  };
  const health = mergeHealthcheck(body.Healthcheck, img.Healthcheck);
  if (health) config.Healthcheck = health;
  if (!config.StopSignal) delete config.StopSignal;
  if (config.StopTimeout === undefined) delete config.StopTimeout;
  if (config.MacAddress === undefined) delete config.MacAddress;
  return { config, command: processArgs(merged) };
}

type Healthcheck = NonNullable<ContainerCfg['Healthcheck']>;

/** docker's merge: the create body's check, with unset fields (empty Test, zero durations) taken from the image's. */
function mergeHealthcheck(user: Healthcheck | undefined, image: Healthcheck | undefined): Healthcheck | undefined {
  if (!user) return image;
  if (!image) return user;
  return {
    ...user,
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    Retries: user.Retries || image.Retries,
  };
}
