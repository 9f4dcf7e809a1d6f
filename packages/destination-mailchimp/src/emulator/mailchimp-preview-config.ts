import type { EmulatedWrites } from '@tessera/destination-kit';
import type { MailchimpSettings } from '../mailchimp-settings';
import { mergeTagsSentBy } from '../requests/merge-fields';
import type { MailchimpEmulatorConfig, MergeFieldType } from './emulator-configuration';

/** Mailchimp's types for the default merge fields; other tags take text, which holds strings and numbers. */
const DEFAULT_FIELD_TYPES: Record<string, MergeFieldType> = {
  ADDRESS: 'address',
  BIRTHDAY: 'birthday',
  PHONE: 'phone',
};

/**
 * The account a destination's settings imply, for the mapping preview: its audience (`listId`) with every merge
 * tag it can send, and the static segments `segmentIds` maps the previewed segments to. Tags need nothing: the
 * destination makes those it lacks.
 */
export function mailchimpEmulatorConfigFor(
  settings: MailchimpSettings,
  writes: EmulatedWrites,
): MailchimpEmulatorConfig {
  const mapped = new Map<string, string>();
  for (const segment of writes.segments) {
    const id = settings.segmentIds[segment];
    if (id !== undefined && !mapped.has(id)) mapped.set(id, segment);
  }
  return {
    audiences: [
      {
        id: settings.listId,
        name: 'Audience of the previewed destination',
        mergeFields: mergeTagsSentBy(settings).map((tag) => ({
          tag,
          type: DEFAULT_FIELD_TYPES[tag] ?? 'text',
          name: tag,
        })),
        ...(mapped.size === 0 ? {} : { staticSegments: [...mapped].map(([id, name]) => ({ id, name })) }),
      },
    ],
  };
}
