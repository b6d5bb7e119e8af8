/** Route table for the Engine API: `{name}` matches one path segment, `{name*}` is greedy (image names hold slashes). */
import type { Context } from './http';

export type Handler = (ctx: Context) => Promise<void>;

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const source = pattern.replace(/[.]/g, '\\.').replace(/\{(\w+)(\*?)\}/g, (_m, key: string, greedy: string) => {
      keys.push(key);
      return greedy ? '(.+)' : '([^/]+)';
    });
    this.routes.push({ method, pattern, regex: new RegExp(`^${source}$`), keys, handler });
  }

  /** The handler registered for exactly this method and pattern. */
  handlerFor(method: string, pattern: string): Handler | undefined {
    return this.routes.find((r) => r.method === method && r.pattern === pattern)?.handler;
  }

  /**
   * Routes whose module is loaded on the first request to any of them (keeps rarely used code, such as the builder
   * and the registry client, out of an idle daemon's memory). `load` resolves with the module's registration.
   */
  addLazy(routes: [method: string, pattern: string][], load: () => Promise<(sub: Router) => void>): void {
    let sub: Promise<Router> | undefined;
    const loaded = () =>
      (sub ??= load().then((register) => {
        const r = new Router();
        register(r);
        return r;
      }));
    for (const [method, pattern] of routes) {
      this.add(method, pattern, async (ctx) => {
        const handler = (await loaded()).handlerFor(method, pattern);
        if (!handler) throw new Error(`lazy route ${method} ${pattern} was not registered by its module`);
        return handler(ctx);
      });
    }
  }

  /** The handler and path parameters for a request, or why there is none (404 unknown path, 405 wrong method, 400 a
   *  parameter that is not valid %-encoding). */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | { status: 404 | 405 } | { status: 400; message: string } {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      for (const [i, k] of r.keys.entries()) {
        try {
          params[k] = decodeURIComponent(m[i + 1]);
        } catch {
          return { status: 400, message: `invalid URL escape in ${JSON.stringify(m[i + 1])}` }; // as Go's net/http: 400
        }
      }
      return { handler: r.handler, params };
    }
    return { status: pathMatched ? 405 : 404 };
  }
}

/** A path parameter's escapes decoded; a malformed escape ("%zz") is the client's error, 400 as Go's server answers. */
/** Strip the optional `/vX.Y` prefix; returns the path and the version asked for (undefined = latest). */
export function splitVersion(path: string): { path: string; version?: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  return m ? { path: m[2], version: m[1] } : { path };
}
