/**
 * `compose(a, b, c)`: several middleware as one, composed like functions: `compose(a, b, c)(app)`
 * is `a(b(c(app)))`. The first one listed is the outermost: it sees the request first and the
 * response last. Read the list as the order a request goes through them:
 *
 *   const stack = compose(logRequests, catchErrors, gzip);
 *   serve(stack(app), ...)          // request: logRequests -> catchErrors -> gzip -> app
 */
import type { App, Middleware } from './types.js';

export function compose(...middleware: Middleware[]): Middleware {
  for (const [index, layer] of middleware.entries()) {
    if (typeof layer !== 'function') throw new TypeError(`compose(): argument ${index} is not a middleware function`);
  }
  return (app: App) => middleware.reduceRight<App>((inner, layer) => layer(inner), app);
}
