export { KlaviyoEmulator, type KlaviyoEmulatorConfig, type KlaviyoEmulatorOptions } from './klaviyo.emulator';
export { KlaviyoApiError, type KlaviyoErrorObject, type KlaviyoErrorSource } from './klaviyo-errors';
export {
  signKlaviyoWebhook,
  buildUnsubscribeWebhook,
  UNSUBSCRIBED_FROM_EMAIL_TOPIC,
  type SignedWebhook,
  type WebhookProfile,
} from './klaviyo-webhook';
export type { ProfileView, ChannelConsent, Consent, Suppression } from './klaviyo-store';
