/** Berth's registry client (OCI distribution spec): pull, push, login, and the docker config file's credentials. */
export { Distribution, type DistributionOptions, type PullRequest } from './service';
export { ProgressStream, progressBar } from './progress';
export { decodeAuthHeader, encodeAuthHeader, RegistryAuthError, type AuthConfig } from './auth';
export { DockerConfig, serverKey, INDEX_SERVER } from './dockerconfig';
export { validateMirror } from './hosts';
