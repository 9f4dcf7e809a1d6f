/*
 * What the SFMC emulator knows of its tenant: the installed packages' client credentials it issues tokens for,
 * and the data extensions with their columns. Without a configuration it knows neither (as a new tenant), so
 * every test and the demo declare theirs. Validated as a whole; every problem names its JSON pointer.
 */

/** Data extension field types (SFMC's `FieldType`). */
export const DATA_EXTENSION_FIELD_TYPES = [
  'Text',
  'Number',
  'Decimal',
  'Date',
  'Boolean',
  'EmailAddress',
  'Phone',
  'Locale',
] as const;
export type DataExtensionFieldType = (typeof DATA_EXTENSION_FIELD_TYPES)[number];

/** Longest Text column SFMC allows; the fixed lengths of the other text-like types. */
export const TEXT_MAX_LENGTH = 4_000;
export const FIXED_LENGTHS: Partial<Record<DataExtensionFieldType, number>> = {
  EmailAddress: 254,
  Phone: 50,
  Locale: 5,
};

export interface SfmcClientConfig {
  clientId: string;
  clientSecret: string;
  /** MID of the business unit the package belongs to (reported by tokenContext). */
  accountId?: string;
}

export interface SfmcColumnConfig {
  name: string;
  type: DataExtensionFieldType;
  /** Text columns only: most characters (1–4,000; unset = 4,000). */
  maxLength?: number;
  /** A row must hold a value in this column (primary key columns always must). */
  required?: boolean;
}

export interface SfmcDataExtensionConfig {
  /** External key (customer key). */
  key: string;
  /** Names of the primary key columns. */
  primaryKeys: string[];
  columns: SfmcColumnConfig[];
}

export interface SfmcEmulatorConfig {
  clients: SfmcClientConfig[];
  dataExtensions: SfmcDataExtensionConfig[];
}

/** SFMC's rule for column names: letters, digits, underscores and spaces, not starting with a digit. */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_ ]{0,127}$/;

class ConfigProblems {
  readonly problems: string[] = [];

  add(pointer: string, message: string): void {
    this.problems.push(`${pointer === '' ? '/' : pointer} ${message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(
  value: Record<string, unknown>,
  known: readonly string[],
  pointer: string,
  problems: ConfigProblems,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      problems.add(`${pointer}/${key}`, `is not a known setting (known: ${known.join(', ')})`);
  }
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function parseClient(
  value: unknown,
  pointer: string,
  problems: ConfigProblems,
): SfmcClientConfig | undefined {
  if (!isRecord(value)) {
    problems.add(pointer, 'must be an object { clientId, clientSecret, accountId? }');
    return undefined;
  }
  checkKeys(value, ['clientId', 'clientSecret', 'accountId'], pointer, problems);
  const { clientId, clientSecret, accountId } = value;
  if (!nonEmptyString(clientId)) problems.add(`${pointer}/clientId`, 'must be a non-empty string');
  if (!nonEmptyString(clientSecret)) problems.add(`${pointer}/clientSecret`, 'must be a non-empty string');
  if (accountId !== undefined && !(typeof accountId === 'string' && /^[0-9]+$/.test(accountId))) {
    problems.add(`${pointer}/accountId`, 'must be the MID of a business unit: a string of digits');
  }
  if (!nonEmptyString(clientId) || !nonEmptyString(clientSecret)) return undefined;
  return { clientId, clientSecret, ...(typeof accountId === 'string' ? { accountId } : {}) };
}

function parseColumn(
  value: unknown,
  pointer: string,
  problems: ConfigProblems,
): SfmcColumnConfig | undefined {
  if (!isRecord(value)) {
    problems.add(pointer, 'must be an object { name, type, maxLength?, required? }');
    return undefined;
  }
  checkKeys(value, ['name', 'type', 'maxLength', 'required'], pointer, problems);
  const { name, type, maxLength, required } = value;
  let ok = true;
  if (typeof name !== 'string' || !COLUMN_NAME.test(name)) {
    problems.add(
      `${pointer}/name`,
      'must be a column name: letters, digits, underscores and spaces, not starting with a digit',
    );
    ok = false;
  }
  if (!(DATA_EXTENSION_FIELD_TYPES as readonly unknown[]).includes(type)) {
    problems.add(
      `${pointer}/type`,
      `must be one of ${DATA_EXTENSION_FIELD_TYPES.join(', ')} (got ${JSON.stringify(type)})`,
    );
    ok = false;
  }
  if (maxLength !== undefined) {
    if (type !== 'Text') {
      problems.add(
        `${pointer}/maxLength`,
        'applies to Text columns only (the other types have a fixed length)',
      );
      ok = false;
    } else if (
      !Number.isInteger(maxLength) ||
      (maxLength as number) < 1 ||
      (maxLength as number) > TEXT_MAX_LENGTH
    ) {
      problems.add(`${pointer}/maxLength`, `must be an integer from 1 to ${TEXT_MAX_LENGTH}`);
      ok = false;
    }
  }
  if (required !== undefined && typeof required !== 'boolean') {
    problems.add(`${pointer}/required`, 'must be true or false');
    ok = false;
  }
  if (!ok) return undefined;
  return {
    name: name as string,
    type: type as DataExtensionFieldType,
    ...(maxLength === undefined ? {} : { maxLength: maxLength as number }),
    ...(required === undefined ? {} : { required: required as boolean }),
  };
}

function parseDataExtension(
  value: unknown,
  pointer: string,
  problems: ConfigProblems,
): SfmcDataExtensionConfig | undefined {
  if (!isRecord(value)) {
    problems.add(pointer, 'must be an object { key, primaryKeys, columns }');
    return undefined;
  }
  checkKeys(value, ['key', 'primaryKeys', 'columns'], pointer, problems);
  const { key, primaryKeys, columns } = value;
  if (!nonEmptyString(key)) problems.add(`${pointer}/key`, 'must be a non-empty string (the external key)');
  const parsedColumns: SfmcColumnConfig[] = [];
  if (!Array.isArray(columns) || columns.length === 0) {
    problems.add(`${pointer}/columns`, 'must list at least one column');
  } else {
    const seen = new Set<string>();
    columns.forEach((column, index) => {
      const parsed = parseColumn(column, `${pointer}/columns/${index}`, problems);
      if (parsed === undefined) return;
      // SFMC compares column names without regard to case.
      const lower = parsed.name.toLowerCase();
      if (seen.has(lower))
        problems.add(`${pointer}/columns/${index}/name`, `repeats the column "${parsed.name}"`);
      seen.add(lower);
      parsedColumns.push(parsed);
    });
  }
  if (!Array.isArray(primaryKeys) || primaryKeys.length === 0) {
    problems.add(`${pointer}/primaryKeys`, 'must name at least one column');
  } else {
    primaryKeys.forEach((name, index) => {
      const column = parsedColumns.find(
        (candidate) => typeof name === 'string' && candidate.name.toLowerCase() === name.toLowerCase(),
      );
      if (column === undefined) {
        problems.add(
          `${pointer}/primaryKeys/${index}`,
          `names no column of the data extension (got ${JSON.stringify(name)})`,
        );
      } else if (['Boolean', 'Decimal'].includes(column.type)) {
        problems.add(
          `${pointer}/primaryKeys/${index}`,
          `cannot be the ${column.type} column "${column.name}"`,
        );
      }
    });
  }
  if (!nonEmptyString(key) || !Array.isArray(primaryKeys)) return undefined;
  return {
    key,
    primaryKeys: primaryKeys.filter((name): name is string => typeof name === 'string'),
    columns: parsedColumns,
  };
}

/** The configuration `config` describes, or an Error listing every problem with its JSON pointer. */
export function parseSfmcEmulatorConfig(config: unknown): SfmcEmulatorConfig {
  const problems = new ConfigProblems();
  if (!isRecord(config)) {
    throw new Error('SFMC emulator configuration must be an object { clients, dataExtensions }');
  }
  checkKeys(config, ['clients', 'dataExtensions'], '', problems);
  const clients: SfmcClientConfig[] = [];
  const dataExtensions: SfmcDataExtensionConfig[] = [];
  const rawClients = config['clients'] ?? [];
  if (!Array.isArray(rawClients))
    problems.add('/clients', 'must be an array of { clientId, clientSecret, accountId? }');
  else {
    rawClients.forEach((client, index) => {
      const parsed = parseClient(client, `/clients/${index}`, problems);
      if (parsed === undefined) return;
      if (clients.some((known) => known.clientId === parsed.clientId)) {
        problems.add(`/clients/${index}/clientId`, `repeats the client "${parsed.clientId}"`);
      }
      clients.push(parsed);
    });
  }
  const rawExtensions = config['dataExtensions'] ?? [];
  if (!Array.isArray(rawExtensions))
    problems.add('/dataExtensions', 'must be an array of { key, primaryKeys, columns }');
  else {
    rawExtensions.forEach((extension, index) => {
      const parsed = parseDataExtension(extension, `/dataExtensions/${index}`, problems);
      if (parsed === undefined) return;
      if (dataExtensions.some((known) => known.key === parsed.key)) {
        problems.add(`/dataExtensions/${index}/key`, `repeats the data extension "${parsed.key}"`);
      }
      dataExtensions.push(parsed);
    });
  }
  if (problems.problems.length > 0) {
    throw new Error(`SFMC emulator configuration is invalid: ${problems.problems.join('; ')}`);
  }
  return { clients, dataExtensions };
}
