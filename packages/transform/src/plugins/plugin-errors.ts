/** One problem found in a plugin's config or output, located by a JSON Pointer. */
export interface PluginIssue {
  /** JSON Pointer into the checked value, e.g. `/minPoints` (`/` for the value itself). */
  pointer: string;
  message: string;
}

const describeIssues = (issues: PluginIssue[]): string =>
  issues.map((issue) => `${issue.pointer} ${issue.message}`).join('; ');

/** A plugin definition is malformed: thrown by `definePlugin` when the plugin module loads. */
export class PluginDefinitionError extends Error {
  constructor(
    readonly plugin: string,
    readonly field: string,
    problem: string,
  ) {
    super(`Plugin "${plugin}": ${field} ${problem}`);
    this.name = 'PluginDefinitionError';
  }
}

/** A workspace's plugin configuration is wrong: an unknown plugin, or a config its schema rejects. */
export class PluginConfigError extends Error {
  constructor(
    message: string,
    readonly plugin: string,
    readonly issues: PluginIssue[] = [],
    readonly destination?: string,
  ) {
    super(message);
    this.name = 'PluginConfigError';
  }

  static invalidConfig(plugin: string, issues: PluginIssue[], destination?: string): PluginConfigError {
    const subject =
      destination === undefined ? `Plugin "${plugin}"` : `Destination "${destination}": plugin "${plugin}"`;
    return new PluginConfigError(
      `${subject}: invalid config: ${describeIssues(issues)}`,
      plugin,
      issues,
      destination,
    );
  }

  /** The same problem, stated for one destination of the workspace. */
  forDestination(destination: string): PluginConfigError {
    return PluginConfigError.invalidConfig(this.plugin, this.issues, destination);
  }
}

/** What a plugin returned is not a list of destination operations. */
export class PluginOutputError extends Error {
  constructor(
    readonly plugin: string,
    readonly issues: PluginIssue[],
  ) {
    super(`Plugin "${plugin}": invalid output: ${describeIssues(issues)}`);
    this.name = 'PluginOutputError';
  }
}

export type PluginRunErrorKind = 'threw' | 'rejected' | 'timeout' | 'invalid-output' | 'crashed';

/** Running a plugin failed for the events named. */
export class PluginRunError extends Error {
  constructor(
    readonly kind: PluginRunErrorKind,
    readonly plugin: string,
    readonly eventIds: string[],
    message: string,
  ) {
    super(message);
    this.name = 'PluginRunError';
  }
}
