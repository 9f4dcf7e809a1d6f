export { BINARY_MODE_SIGNING_FORM, binaryModeSignedContent } from './binary-mode-signing';
export {
  EventIntake,
  type EventIntakeDependencies,
  type EventResult,
  type IntakeRequest,
  type IntakeResponse,
} from './event-intake';
export {
  AdmissionUnavailableError,
  RedisEventAdmission,
  type AdmissionRequest,
  type EventAdmission,
  type RedisEventAdmissionOptions,
} from './event-admission';
export { normalizeEvent, type NormalizedEvent } from './event-normalizer';
export { mapLoyaltyWebhook, type LoyaltyWebhook } from './loyalty-webhook';
export { IntakeMetrics, type EventOutcome } from './intake-metrics';
export {
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  MAX_REQUEST_BYTES,
  isBinaryMode,
  parseRequestBody,
  type ContentMode,
  type RawEvent,
} from './request-body';
export { SourceRateLimiter, type RateDecision } from './source-rate-limiter';
export {
  InMemorySourceDirectory,
  ReloadingSourceDirectory,
  type RegisteredSource,
  type ReloadingSourceDirectoryOptions,
  type SourceDirectory,
} from './source-directory';
export {
  SIGNATURE_TOLERANCE_SECONDS,
  WebhookSignatureVerifier,
  type SignatureCheck,
} from './webhook-signature';
