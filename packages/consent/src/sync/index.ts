export {
  marketingConsent,
  planInboundUnsubscribes,
  type RoutedOperation,
  type UnsubscribePlan,
} from './unsubscribe-sync';
