export * from './event-identity';
export * from './resolve-stage.service';
export * from './route-stage.service';
export * from './deliver-stage.service';
export * from './delivery-retry-schedule';
export * from './redis-profile-version-guard';
