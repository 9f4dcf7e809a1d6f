export * from './mapping-preview.service';
export * from './preview-errors';
export { maskContactPointsIn, type PersonalDataAccess } from './preview-masking';
export type { PreviewRequest } from './emulated-delivery';
export { InProcessPluginRunner } from './in-process-plugin-runner';
