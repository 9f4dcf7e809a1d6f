import {
  FIXED_LENGTHS,
  type SfmcColumnConfig,
  type SfmcDataExtensionConfig,
  TEXT_MAX_LENGTH,
} from './sfmc-emulator-config';

/*
 * One data extension of the emulator: its columns (from the configuration) and its rows. Rows are checked the
 * way SFMC checks them — column names compared without regard to case, unknown columns refused, values parsed
 * by the column's type, lengths and required columns enforced — and every problem is worded as SFMC words a
 * refused value: "<Column>: The value for column [<Column>] is not a valid email address. Parse error
 * [InvalidEmailAddress]".
 */

export type Cell = string | number | boolean;
export type Row = Record<string, Cell>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };

/** What a type's value must look like, and how SFMC names the parse error. */
const TYPE_CHECKS: Record<
  Exclude<SfmcColumnConfig['type'], 'Text'>,
  { label: string; code: string; valid: (value: Cell) => boolean }
> = {
  Number: {
    label: 'number',
    code: 'InvalidNumber',
    valid: (value) => {
      const number = typeof value === 'number' ? value : /^-?\d+$/.test(String(value)) ? Number(value) : NaN;
      return Number.isInteger(number) && number >= INT32.min && number <= INT32.max;
    },
  },
  Decimal: {
    label: 'decimal',
    code: 'InvalidDecimal',
    valid: (value) =>
      typeof value === 'number' ? Number.isFinite(value) : /^-?\d+(\.\d+)?$/.test(String(value)),
  },
  Boolean: {
    label: 'boolean',
    code: 'InvalidBoolean',
    valid: (value) => typeof value === 'boolean' || /^(true|false|1|0)$/i.test(String(value)),
  },
  Date: {
    label: 'date',
    code: 'InvalidDate',
    valid: (value) => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
  },
  EmailAddress: {
    label: 'email address',
    code: 'InvalidEmailAddress',
    valid: (value) => typeof value === 'string' && EMAIL.test(value),
  },
  Phone: {
    label: 'phone number',
    code: 'InvalidPhone',
    valid: (value) => /^\+?[0-9][0-9 ().-]*$/.test(String(value)),
  },
  Locale: {
    label: 'locale',
    code: 'InvalidLocale',
    valid: (value) => typeof value === 'string' && /^[a-z]{2}(-[A-Za-z]{2})?$/.test(value),
  },
};

const isEmpty = (value: unknown): boolean => value === undefined || value === '';

export const unknownColumnMessage = (name: string): string =>
  `${name}: The data extension has no column [${name}].`;
export const requiredColumnMessage = (name: string): string =>
  `${name}: The value for column [${name}] is required.`;

/** Why SFMC would refuse `value` in `column`, or undefined when it takes it. */
export function valueProblem(column: SfmcColumnConfig, value: unknown): string | undefined {
  const name = column.name;
  if (!['string', 'number', 'boolean'].includes(typeof value)) {
    return `${name}: The value for column [${name}] must be a string, number or boolean.`;
  }
  if (value === '') return undefined;
  const cell = value as Cell;
  if (column.type !== 'Text') {
    const check = TYPE_CHECKS[column.type];
    if (!check.valid(cell)) {
      return `${name}: The value for column [${name}] is not a valid ${check.label}. Parse error [${check.code}]`;
    }
  }
  const maxLength =
    column.type === 'Text' ? (column.maxLength ?? TEXT_MAX_LENGTH) : FIXED_LENGTHS[column.type];
  if (maxLength !== undefined && String(cell).length > maxLength) {
    return `${name}: The value for column [${name}] is longer than its maximum length of ${maxLength}.`;
  }
  return undefined;
}

export class DataExtensionTable {
  readonly key: string;
  readonly primaryKeys: string[];
  private readonly columns: Map<string, SfmcColumnConfig>;
  private rows = new Map<string, Row>();

  constructor(readonly config: SfmcDataExtensionConfig) {
    this.key = config.key;
    this.columns = new Map(config.columns.map((column) => [column.name.toLowerCase(), column]));
    this.primaryKeys = config.primaryKeys.map((name) => this.column(name)?.name ?? name);
  }

  /** The column named `name`, compared without regard to case. */
  column(name: string): SfmcColumnConfig | undefined {
    return this.columns.get(name.toLowerCase());
  }

  isPrimaryKey(name: string): boolean {
    return this.primaryKeys.some((key) => key.toLowerCase() === name.toLowerCase());
  }

  /**
   * The row with the configured column names, and everything SFMC would refuse in it (empty when it takes the
   * row): unknown columns, values that do not parse, missing primary keys, and required columns left empty once
   * the row is merged with the one it updates.
   */
  check(input: Record<string, unknown>): { row: Row; problems: string[] } {
    const row: Row = {};
    const problems: string[] = [];
    for (const [name, value] of Object.entries(input)) {
      const column = this.column(name);
      if (column === undefined) {
        problems.push(unknownColumnMessage(name));
        continue;
      }
      const problem = valueProblem(column, value);
      if (problem !== undefined) problems.push(problem);
      else row[column.name] = value as Cell;
    }
    const missingKey = this.primaryKeys.filter((key) => isEmpty(row[key]));
    if (missingKey.length > 0) {
      // Without its key the row cannot be found, so whether it would lack required values is unknown.
      problems.push(...missingKey.map(requiredColumnMessage));
      return { row, problems };
    }
    const merged = { ...this.rows.get(this.rowKey(row)), ...row };
    for (const column of this.columns.values()) {
      if (column.required === true && isEmpty(merged[column.name]) && !this.isPrimaryKey(column.name)) {
        problems.push(requiredColumnMessage(column.name));
      }
    }
    return { row, problems };
  }

  /** Saves a checked row, merged into the row with the same primary key. */
  save(row: Row): void {
    const key = this.rowKey(row);
    this.rows.set(key, { ...this.rows.get(key), ...row });
  }

  all(): Row[] {
    return [...this.rows.values()].map((row) => ({ ...row }));
  }

  /** Rows whose `field` (any case) holds `value` as text; every row when `field` is undefined. */
  where(field: string | undefined, value: string | undefined): Row[] {
    const lower = field?.toLowerCase();
    return this.all().filter(
      (row) =>
        lower === undefined ||
        Object.entries(row).some(([name, cell]) => name.toLowerCase() === lower && String(cell) === value),
    );
  }

  /** Deletes the rows one of whose primary key columns holds `contactKey` (a sendable relationship). */
  deleteContact(contactKey: string): void {
    for (const [key, row] of this.rows) {
      if (this.primaryKeys.some((column) => String(row[column]) === contactKey)) this.rows.delete(key);
    }
  }

  clear(): void {
    this.rows = new Map();
  }

  private rowKey(row: Row): string {
    return JSON.stringify(this.primaryKeys.map((key) => String(row[key])));
  }
}
