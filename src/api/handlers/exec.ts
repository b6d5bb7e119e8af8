/** /containers/{id}/exec and /exec/* routes. */
import type { ExecConfig, ExecService } from '../../engine/exec';
import { EXEC_CONFIG, EXEC_START } from '../decode';
import { checkJsonContentType, parseJsonBody, qInt, readJsonBody, sendEmpty, sendJson } from '../http';
import type { Router } from '../router';
import { openClientStream, outputSink } from '../stream';

export function execRoutes(r: Router, execs: ExecService): void {
  r.add('POST', '/containers/{id}/exec', async (ctx) => {
    const body = await readJsonBody<ExecConfig>(ctx, {}, EXEC_CONFIG);
    sendJson(ctx, 201, execs.create(ctx.params.id, body));
  });

  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const ex = execs.get(ctx.params.id);
    const tty = !!ex.config.Tty;
    const stream = await openClientStream(ctx, tty);
    if (stream.body.length) checkJsonContentType(ctx.req);
    const opts = parseJsonBody<{ Detach?: boolean; ConsoleSize?: [number, number] | null }>(stream.body, {}, EXEC_START);
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
