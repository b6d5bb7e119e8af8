/** /containers/* routes. */
import type { Writable } from 'node:stream';
import type { CreateBody } from '../../schema/container';
import { badRequest, conflict } from '../../common/errors';
import { parseSignal } from '../../common/signals';
import type { ContainerService, WaitCondition } from '../../engine/containers/service';
import { sessionDetachKeys } from '../../engine/containers/attach';
import { parseTimestampArg, type LogRequest } from '../../engine/containers/logs';
import { top } from '../../engine/containers/top';
import { linkNames, removeLink } from '../../engine/containers/links';
import { containerFilter, inspectView, listFacts, listView, type NetView } from '../../engine/containers/view';
import type { ContainerNetworking } from '../../engine/containers/network';
import type { ContainerRecord } from '../../engine/containers/record';
import type { VolumeService } from '../../engine/volumes';
import type { ExecService } from '../../engine/exec';
import { CREATE_CONTAINER } from '../decode';
import type { ImageService } from '../../image/service';
import type { DockerMountPoint } from '../../engine/volume-mounts';
import { containerSizes } from '../../engine/disk-usage';
import { qBool, qFilters, qInt, qTimestamp, readJsonBody, sendEmpty, sendJson, startStream, type Context } from '../http';
import type { Router } from '../router';
import { openClientStream, outputSink } from '../stream';
import { acceptWebSocket } from '../websocket';

export function containerRoutes(
  r: Router,
  svc: ContainerService,
  execs: ExecService,
  images: ImageService,
  networking: ContainerNetworking,
  volumes: VolumeService,
): void {
  const store = svc.store;
  const sizeDeps = { store, images, volumes };
  const mounts = (rec: ContainerRecord): DockerMountPoint[] => volumes.mountPointsOf(rec);
  const net = (id: string): NetView => ({ settings: networking.settings(id), ports: networking.ports(id) });

  r.add('POST', '/containers/create', async (ctx) => {
    const body = await readJsonBody<CreateBody>(ctx, {}, CREATE_CONTAINER);
    sendJson(ctx, 201, svc.create(body, ctx.query.get('name'), ctx.query.get('platform') || undefined));
  });

  r.add('GET', '/containers/json', async (ctx) => {
    const limit = qInt(ctx.query, 'limit') ?? -1;
    const filter = containerFilter(qFilters(ctx.query), { resolveImage: (ref) => images.resolve(ref)?.id, container: (ref) => store.get(ref) });
    const all = qBool(ctx.query, 'all') || filter.all;
    let list = store
      .all()
      .filter((rec) => (all || limit > 0 || rec.State.Running) && filter.match(rec, () => listFacts(rec, net(rec.Id), mounts(rec))))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    if (limit > 0) list = list.slice(0, limit);
    const everyone = store.all();
    const sizes = qBool(ctx.query, 'size') ? containerSizes(sizeDeps, list) : undefined;
    sendJson(ctx, 200, list.map((rec, i) => ({ ...listView(rec, net(rec.Id), mounts(rec), linkNames(rec, everyone)), ...(sizes ? { SizeRw: sizes[i].sizeRw, SizeRootFs: sizes[i].sizeRootFs } : {}) })));
  });

  r.add('GET', '/containers/{id}/json', async (ctx) => {
    const rec = store.get(ctx.params.id);
    sendJson(ctx, 200, inspectView(rec, store.paths(rec.Id), execs.idsOf(rec.Id), net(rec.Id), mounts(rec)));
  });

  r.add('POST', '/containers/{id}/start', async (ctx) => {
    await svc.start(ctx.params.id);
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/stop', async (ctx) => {
    await svc.stop(ctx.params.id, qInt(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/restart', async (ctx) => {
    await svc.restart(ctx.params.id, qInt(ctx.query, 't'));
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/kill', async (ctx) => {
    await svc.kill(ctx.params.id, killSignal(ctx.params.id, ctx.query.get('signal')));
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/pause', async (ctx) => {
    await svc.pause(ctx.params.id, true);
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await svc.pause(ctx.params.id, false);
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/{id}/rename', async (ctx) => {
    svc.rename(ctx.params.id, ctx.query.get('name') ?? '');
    sendEmpty(ctx, 204);
  });

  // greedy, as docker's route: a link's name ("parent/alias") holds a slash
  r.add('DELETE', '/containers/{id*}', async (ctx) => {
    if (qBool(ctx.query, 'link')) removeLink(ctx.params.id, store);
    else await svc.remove(ctx.params.id, qBool(ctx.query, 'force'), qBool(ctx.query, 'v'));
    sendEmpty(ctx, 204);
  });

  r.add('POST', '/containers/prune', async (ctx) => {
    const filters = qFilters(ctx.query);
    const labels = containerFilter({ label: filters.label ?? [] }, { resolveImage: () => undefined, container: (ref) => store.get(ref) });
    const untilNs = parseTimestampArg(filters.until?.[0] ?? null);
    sendJson(ctx, 200, await svc.prune((rec) => labels.match(rec) && (untilNs === undefined || BigInt(Date.parse(rec.Created)) * 1_000_000n < untilNs)));
  });

  r.add('POST', '/containers/{id}/wait', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const condition = (ctx.query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition: "${condition}"`);
    const done = svc.wait(rec.Id, condition);
    const out = startStream(ctx, 'application/json');
    const code = await done;
    if (!out.destroyed) out.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  });

  /** Join a client (hijacked stream or websocket) to a container: docker's attach query (logs, stream, std*). */
  const attachClient = async (ctx: Context, rec: ContainerRecord, io: { out: Writable; input: NodeJS.ReadableStream }, raw: boolean) => {
    const q = ctx.query;
    const sink = outputSink(io.out, raw);
    const streams = { stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr') };
    if (qBool(q, 'logs')) {
      svc.replayLog(rec.Id, streams, (stream, data) => sink.write(stream, data));
    }
    if (!qBool(q, 'stream')) {
      sink.end();
      return;
    }
    const client = {
      sink,
      streams,
      stdin: qBool(q, 'stdin') && rec.Config.OpenStdin ? io.input : undefined,
      stdinOnce: rec.Config.StdinOnce,
      detachKeys: sessionDetachKeys(rec.Config.Tty, q.get('detachKeys')),
    };
    if (rec.Instance) await svc.attach.attachRunning(rec.Id, client);
    else svc.attach.addPending(rec.Id, client);
  };

  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const tty = rec.Config.Tty;
    sessionDetachKeys(tty, ctx.query.get('detachKeys')); // refuse bad keys before the upgrade
    await attachClient(ctx, rec, await openClientStream(ctx, tty), tty);
  });

  // docker's websocket attach: raw output bytes (no 8-byte frames) in binary messages, messages in as stdin.
  r.add('GET', '/containers/{id}/attach/ws', async (ctx) => {
    const rec = store.get(ctx.params.id);
    sessionDetachKeys(rec.Config.Tty, ctx.query.get('detachKeys'));
    await attachClient(ctx, rec, acceptWebSocket(ctx), true);
  });

  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    const rec = store.get(ctx.params.id);
    if (!rec.Instance) throw conflict(`Container ${rec.Id} is not running`);
    svc.resize(rec.Id, qInt(ctx.query, 'h') ?? 0, qInt(ctx.query, 'w') ?? 0);
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/containers/{id}/logs', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const q = ctx.query;
    const tail = q.get('tail');
    const opts: LogRequest = {
      stdout: qBool(q, 'stdout'),
      stderr: qBool(q, 'stderr'),
      tail: !tail || tail === 'all' ? undefined : Number(tail),
      sinceNs: qTimestamp(q, 'since'),
      untilNs: qTimestamp(q, 'until'),
      follow: qBool(q, 'follow'),
      timestamps: qBool(q, 'timestamps'),
    };
    if (!opts.stdout && !opts.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
    if (opts.tail !== undefined && !Number.isInteger(opts.tail)) throw badRequest(`invalid value for "tail": ${tail}`);
    const log = svc.logs(rec.Id);
    const out = startStream(ctx, log.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const sink = outputSink(out, log.tty);
    await log.read(opts, (stream, data) => sink.write(stream, data), (stop) => out.on('close', stop));
    sink.end();
  });

  r.add('GET', '/containers/{id}/top', async (ctx) => {
    sendJson(ctx, 200, await top(store.get(ctx.params.id), ctx.query.get('ps_args') || '-ef'));
  });
}

/** The kill signal's number, parsed before the container is looked up; errors in docker's "Cannot kill" words. */
function killSignal(ref: string, raw: string | null): number | undefined {
  if (!raw) return undefined;
  try {
    return parseSignal(raw);
  } catch (e) {
    throw badRequest(`Cannot kill container: ${ref}: ${(e as Error).message}`);
  }
}
