/** /containers/{id}/exec and /exec/* routes. */
import type { ExecConfig, ExecService } from '../../engine/exec';
import { badRequest } from '../../common/errors';
import { readJsonBody, sendEmpty, sendJson } from '../http';
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
    let opts: { Detach?: boolean } = {};
    if (stream.body.length) {
      try {
        opts = JSON.parse(stream.body.toString('utf8')) as { Detach?: boolean };
      } catch (e) {
        throw badRequest(`invalid JSON body: ${(e as Error).message}`);
      }
    }
    if (opts.Detach) {
      stream.out.end();
      void execs.start(ex.id, {}).catch(() => undefined);
      return;
    }
    await execs.start(ex.id, { sink: outputSink(stream.out, tty), stdin: stream.input });
  });

  r.add('POST', '/exec/{id}/resize', async (ctx) => {
    execs.get(ctx.params.id);
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/exec/{id}/json', async (ctx) => {
    sendJson(ctx, 200, execs.inspect(ctx.params.id));
  });
}
