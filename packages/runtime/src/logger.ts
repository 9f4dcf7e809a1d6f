import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './settings';

export type { Logger } from 'pino';

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// International numbers (a leading +) and grouped national ones such as "07700 900 123" or "(020) 7946 0000";
// not digit groups inside ids (a UUID's "-0123-4567-8901").
const PHONE = /(?<![\w-])(?:\+\d[\d ().-]{6,18}\d|\(?0\d{2,4}\)?[ .-]\d{3,4}[ .-]?\d{3,4})(?![\w-])/g;

/** Masks email addresses and phone numbers anywhere in a serialized log line. */
export function redactContactPoints(line: string): string {
  return line.replace(EMAIL, '[email]').replace(PHONE, '[phone]');
}

/** Fields that hold secrets or contact points, wherever they sit in a log object. */
const REDACTED_PATHS = [
  'email',
  'phone',
  '*.email',
  '*.phone',
  '*.*.email',
  '*.*.phone',
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  'headers.authorization',
  'headers["webhook-signature"]',
  '*.headers.authorization',
  '*.headers["webhook-signature"]',
];

/** Structured JSON logs, with secrets and contact points redacted before they are written. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tessera' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: redactContactPoints },
    },
    destination,
  );
}
