/**
 * Express adapter: `app.use(burrowExpress(burrow))` is `app.use(burrow.middleware())`. Express is an
 * optional peer; this file needs nothing of it beyond the `(req, res, next)` shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Burrow } from './burrow.js';

/** Express-compatible middleware serving Burrow's HTTP endpoints; other paths go to `next`. */
export function burrowExpress(burrow: Burrow): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    burrow.handle(req, res, next);
  };
}
