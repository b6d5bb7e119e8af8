/** Berth's own registry server (OCI distribution spec 1.1). */
export { startRegistry, type RegistryOptions, type RunningRegistry } from './server';
export { garbageCollect, type GcResult } from './gc';
export { RegistryError, type RegistryErrorCode } from './errors';
