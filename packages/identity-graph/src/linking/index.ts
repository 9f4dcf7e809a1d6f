export {
  AccountLinking,
  LinkTokenError,
  DEFAULT_LINK_TOKEN_TTL_MS,
  LINK_RULE,
  linkTokenHash,
  linkConsentReference,
  type AccountLinkingOptions,
  type LinkTokenErrorCode,
  type LinkTokenMessage,
  type LinkTokenSender,
} from './account-linking';
export { EventLinking, ACCOUNT_LINKED_BASIS, type EventLink, type EventLinkOutcome } from './event-linking';
