export * from './dsr-contract';
export { DsrRequestRepository } from './dsr-request.repository';
export { EmptyDeliveryLog, type DeliveryLogReader } from './delivery-log-reader';
export type { ErasureSubject, SubjectDataEraser } from './subject-data-eraser';
export { writeSubjectAccessExport, type SubjectAccessExport } from './subject-access-export';
export {
  DsrService,
  type DsrServiceOptions,
  type ErasureDestination,
  type ErasureOutcome,
} from './dsr.service';
