/** Engine API reply shapes the CLI reads (declared here: the CLI may not import the engine's types). */

export interface Port { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }

export interface MountPoint { Type?: string; Name?: string; Source?: string; Destination?: string; Driver?: string }

/** GET /containers/json entry. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID?: string;
  Command: string;
  Created: number;
  Ports?: Port[] | null;
  Labels?: Record<string, string> | null;
  State: string;
  Status: string;
  SizeRw?: number;
  SizeRootFs?: number;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, unknown> | null };
  Mounts?: MountPoint[] | null;
}

/** GET /images/json entry. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

/** POST /containers/{id}/wait reply. */
export interface WaitResponse { StatusCode: number; Error?: { Message?: string } | null }

/** GET /events message. */
export interface EventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  timeNano?: number;
  status?: string;
  id?: string;
  from?: string;
}
