/** A container's typed spec parts as create makes them, for tests of the layers that read them. */
import type { PublishSpec } from '../../src/common/ports';
import { normalizeCreate } from '../../src/engine/containers/normalize';
import type { HostConfig } from '../../src/schema/container';

/** A create body's ExposedPorts and PortBindings as a container's spec has them (checked as at create). */
export const publish = (exposed: Record<string, object> | null, bindings: HostConfig['PortBindings'], publishAll = false): PublishSpec =>
  normalizeCreate({ ExposedPorts: exposed ?? undefined, HostConfig: { PortBindings: bindings, PublishAllPorts: publishAll } }, { exists: () => true, caps: [] }).ports;
