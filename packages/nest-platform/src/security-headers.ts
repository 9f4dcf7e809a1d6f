import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export type CspDirectives = Record<string, string[]>;

/**
 * The Content-Security-Policy of everything Tessera serves: the console web UI, the API docs and JSON answers.
 * Only this origin's scripts, styles, images and fonts (`data:` images and fonts for the bundled UIs' inlined
 * icons), requests back to this origin only (the API and its server-sent events), no plugins, no inline event
 * handlers, and no framing by anyone (`frame-ancestors 'none'`: clickjacking). No `upgrade-insecure-requests`:
 * a deployment on plain HTTP (the embedded default on 127.0.0.1) would send every asset to an HTTPS port
 * nobody listens on.
 */
export const CONTENT_SECURITY_POLICY: Readonly<CspDirectives> = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
};

/**
 * The security headers of every Tessera process's answers (@fastify/helmet): the policy above, plus helmet's
 * defaults (`X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `Strict-Transport-Security`,
 * which browsers heed over HTTPS only, `Cross-Origin-Opener-Policy` and `Cross-Origin-Resource-Policy`
 * `same-origin`, …), and `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`.
 */
export const SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { ...CONTENT_SECURITY_POLICY } },
  frameguard: { action: 'deny' },
};

/**
 * Widens the policy for the routes a Fastify scope registers from here on, by the directives given (which
 * replace the same directives of the base policy): for a bundled UI that cannot live without, say, inline
 * styles. Call it in the scope before its routes are registered.
 */
export function widenContentSecurityPolicy(scope: FastifyInstance, directives: CspDirectives): void {
  const policy = { useDefaults: false, directives: { ...CONTENT_SECURITY_POLICY, ...directives } };
  scope.addHook('onRoute', (route) => {
    // @fastify/helmet reads a route's own options from its config at each request.
    route.config = { ...(route.config ?? {}), helmet: { contentSecurityPolicy: policy } };
  });
}
