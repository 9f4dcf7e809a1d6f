import { AccessController } from './access.controller';
import { DashboardController } from './dashboard.controller';
import { DeadLettersController } from './dead-letters.controller';
import { DsrController } from './dsr.controller';
import { PreviewController } from './preview.controller';
import { ProfilesController } from './profiles.controller';
import { ReviewsController } from './reviews.controller';
import { SharedIdentifiersController } from './shared-identifiers.controller';
import { WorkspaceController } from './workspace.controller';

/** Every control-plane controller: the module mounts them, the OpenAPI document reads them. */
export const CONSOLE_CONTROLLERS = [
  AccessController,
  WorkspaceController,
  PreviewController,
  ProfilesController,
  DeadLettersController,
  ReviewsController,
  SharedIdentifiersController,
  DsrController,
  DashboardController,
];
