import { ConfigurationError } from '../settings';

/** For specs: runs `run`, which must throw a ConfigurationError, and returns it. */
export function catchConfigurationError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError, but nothing was thrown');
}
