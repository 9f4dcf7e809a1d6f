export { ConsoleModule } from './console.module';
export { consolePaths } from './console.paths';
export { CONSOLE_CONTROLLERS } from './console-controllers';
export { openApiDocument } from './openapi-document';
