export * from './consent-contract';
export * from './ledger';
export * from './gate';
export * from './privacy';
export * from './sync';
export * from './dsr';
