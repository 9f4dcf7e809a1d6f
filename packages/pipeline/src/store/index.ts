export * from './raw-event-log.repository';
export * from './destination-state-book.repository';
export * from './delivery-log.repository';
export * from './dead-letter-box.repository';
export * from './inbound-cursor-book.repository';
export * from './destination-sync-state.repository';
export * from './erasure-targets.repository';
export * from './unresolved-events.repository';
