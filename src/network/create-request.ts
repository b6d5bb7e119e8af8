/**
 * The body of POST /networks/create checked field by field as docker's Go JSON decoder does: a value of the wrong
 * type is a 400 naming the field (`Labels` as numbers must not reach the store or fail later as a 500).
 */
import { badRequest } from '../common/errors';

export interface IpamConfigBody { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }

export interface CreateNetworkBody {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: IpamConfigBody[] | null } | null;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Go type names as the decoder reports them; objects are field tables. */
type Shape = 'string' | 'bool' | 'map[string]string' | { [field: string]: Shape } | [Shape];

const IPAM_CONFIG: Shape = { Subnet: 'string', IPRange: 'string', Gateway: 'string', AuxiliaryAddresses: 'map[string]string' };
const BODY: Shape = {
  Name: 'string', CheckDuplicate: 'bool', Driver: 'string', Scope: 'string', EnableIPv6: 'bool',
  IPAM: { Driver: 'string', Options: 'map[string]string', Config: [IPAM_CONFIG] },
  Internal: 'bool', Attachable: 'bool', Ingress: 'bool', ConfigOnly: 'bool', ConfigFrom: { Network: 'string' },
  Options: 'map[string]string', Labels: 'map[string]string',
};

const jsonKind = (v: unknown): string => (Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v);
const goType = (s: Shape): string => (typeof s === 'string' ? s : Array.isArray(s) ? `[]${goType(s[0])}` : 'struct');

function check(v: unknown, shape: Shape, path: string, typeName: string): void {
  if (v === null || v === undefined) return; // null leaves Go's zero value
  const fail = (kind: string, type: string) => {
    throw badRequest(`invalid JSON: json: cannot unmarshal ${kind} into Go struct field ${path} of type ${type}`);
  };
  if (shape === 'string' || shape === 'bool') {
    if (jsonKind(v) !== shape) fail(jsonKind(v), shape);
  } else if (shape === 'map[string]string') {
    if (jsonKind(v) !== 'object') fail(jsonKind(v), shape);
    for (const x of Object.values(v as object)) if (x !== null && typeof x !== 'string') fail(jsonKind(x), 'string');
  } else if (Array.isArray(shape)) {
    if (!Array.isArray(v)) fail(jsonKind(v), goType(shape));
    for (const x of v as unknown[]) check(x, shape[0], path, typeName);
  } else {
    if (jsonKind(v) !== 'object') fail(jsonKind(v), path === typeName ? typeName : `network.${path.split('.').pop()}`);
    // Go matches field names case-insensitively and ignores unknown ones.
    for (const [k, x] of Object.entries(v as object)) {
      const field = Object.keys(shape).find((f) => f.toLowerCase() === k.toLowerCase());
      if (field) check(x, shape[field], path === typeName ? `${typeName}.${field}` : `${path}.${field}`, typeName);
    }
  }
}

/** The create body with docker's field names (case-insensitive on the wire, as Go decodes). */
export function parseCreateRequest(raw: unknown): CreateNetworkBody {
  check(raw, BODY, 'NetworkCreateRequest', 'NetworkCreateRequest');
  return canonical(raw, BODY) as CreateNetworkBody;
}

/** Field names spelled as in the shape (Go accepts `name` for `Name`). */
function canonical(v: unknown, shape: Shape): unknown {
  if (v === null || typeof v !== 'object' || typeof shape === 'string') return v;
  if (Array.isArray(shape)) return (v as unknown[]).map((x) => canonical(x, shape[0]));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as object)) {
    const field = Object.keys(shape).find((f) => f.toLowerCase() === k.toLowerCase());
    if (field) out[field] = canonical(x, shape[field]);
  }
  return out;
}
