export {
  can,
  isRole,
  mayChangeState,
  PERMISSIONS,
  permissionsOf,
  refusal,
  ROLES,
  type DestinationState,
  type Permission,
  type Role,
} from './access-policy';
export {
  ApiKeyBook,
  ENVIRONMENT_ADMIN_KEY_ID,
  MIN_ADMIN_KEY_LENGTH,
  type ApiKeyRecord,
} from './api-key-book.repository';
export { ControlPlaneError, notFound, type InputIssue } from './control-plane-error';
export { compileOrRefuse, ruleIssues, rulePathToPointer } from './rule-issues';
export {
  newSourceSecret,
  WorkspaceCatalog,
  type BrandRecord,
  type DestinationRecord,
  type SourceRecord,
  type SourceSecretRecord,
  type WorkspaceCatalogOptions,
  type WorkspaceOrigin,
} from './workspace-catalog.repository';
