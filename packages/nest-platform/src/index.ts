export { createHttpApp } from './http-app';
export { PinoNestLogger } from './pino-nest-logger';
export { PlatformModule } from './platform.module';
export { METRICS_REGISTRY, REDIS, RUNTIME, STORE } from './platform-tokens';
export { runProcess, type ProcessDefinition } from './run-process';
export {
  CONTENT_SECURITY_POLICY,
  SECURITY_HEADERS,
  widenContentSecurityPolicy,
  type CspDirectives,
} from './security-headers';
