export * from './inbound-receiver';
export * from './inbound-sync.service';
export * from './inbound-queue';
