/** /containers/{id}/exec and /exec/* routes. */
import type { ExecConfig, ExecService } from '../../engine/exec';
import { badRequest } from '../../common/errors';
import { qInt, readJsonBody, sendEmpty, sendJson } from '../http';
import type { Router } from '../router';
import { openClientStream, outputSink } from '../stream';

export function execRoutes(r: Router, execs: ExecService): void {
  r.add('POST', '/containers/{id}/exec', async (ctx) => {
    const body = await readJsonBody<ExecConfig>(ctx, {});
    sendJson(ctx, 201, execs.create(ctx.params.id, body));
  });

  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const ex = execs.get(ctx.params.id);
    const tty = !!ex.config.Tty;
    const stream = await openClientStream(ctx, tty);
    let opts: { Detach?: boolean; ConsoleSize?: [number, number] | null } = {};
    if (stream.body.length) {
      try {
        opts = JSON.parse(stream.body.toString('utf8')) as typeof opts;
      } catch (e) {
        throw badRequest(`invalid JSON body: ${(e as Error).message}`);
      }
    }
    const [rows, cols] = opts.ConsoleSize ?? [0, 0];
    execs.resize(ex.id, rows, cols);
    const sink = outputSink(stream.out, tty);
    try {
      await execs.start(ex.id, opts.Detach ? undefined : { sink, stdin: stream.input });
      if (opts.Detach) sink.end();
    } catch (e) {
      // The stream has started: the error goes in it, as docker's; the exit code (126/127) is on the exec.
      sink.write('stdout', Buffer.from(`${(e as Error).message}\r\n`));
      sink.end();
    }
  });

  r.add('POST', '/exec/{id}/resize', async (ctx) => {
    execs.resize(ctx.params.id, qInt(ctx.query, 'h') ?? 0, qInt(ctx.query, 'w') ?? 0);
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/exec/{id}/json', async (ctx) => {
    sendJson(ctx, 200, execs.inspect(ctx.params.id));
  });
}
