import type { EmulatedWrites } from '@tessera/destination-kit';
import {
  attributeColumn,
  EMAIL_COLUMN,
  PHONE_COLUMN,
  PRIMARY_KEY_COLUMN,
} from '../requests/data-extension-row';
import { segmentColumn, type SfmcSettings } from '../sfmc-settings';
import type { SfmcColumnConfig, SfmcEmulatorConfig } from './sfmc-emulator-config';

/**
 * The tenant a destination's settings imply, for the mapping preview: its installed package, and its data
 * extension with the key, contact point, attribute and segment columns the previewed operations write (attributes
 * as Text, segments as Boolean), so the emulator accepts what the real data extension is meant to hold.
 */
export function sfmcEmulatorConfigFor(settings: SfmcSettings, writes: EmulatedWrites): SfmcEmulatorConfig {
  const columns = new Map<string, SfmcColumnConfig>([
    [PRIMARY_KEY_COLUMN, { name: PRIMARY_KEY_COLUMN, type: 'Text', maxLength: 254, required: true }],
    [EMAIL_COLUMN, { name: EMAIL_COLUMN, type: 'EmailAddress' }],
    [PHONE_COLUMN, { name: PHONE_COLUMN, type: 'Phone' }],
  ]);
  for (const attribute of writes.attributes) {
    const name = attributeColumn(settings, attribute);
    if (!columns.has(name)) columns.set(name, { name, type: 'Text' });
  }
  for (const segment of writes.segments) {
    const name = segmentColumn(settings, segment);
    if (!columns.has(name)) columns.set(name, { name, type: 'Boolean' });
  }
  return {
    clients: [
      {
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        ...(settings.accountId === undefined ? {} : { accountId: settings.accountId }),
      },
    ],
    dataExtensions: [
      { key: settings.dataExtensionKey, primaryKeys: [PRIMARY_KEY_COLUMN], columns: [...columns.values()] },
    ],
  };
}
