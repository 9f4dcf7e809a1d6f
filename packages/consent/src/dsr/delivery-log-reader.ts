/**
 * What was sent to whom: the pipeline's delivery log, read for an access export. The pipeline provides the
 * real reader; until it does, `EmptyDeliveryLog` answers nothing.
 */
export interface DeliveryLogReader {
  entriesFor(customerIds: string[]): Promise<unknown[]>;
}

export class EmptyDeliveryLog implements DeliveryLogReader {
  async entriesFor(_customerIds: string[]): Promise<unknown[]> {
    return [];
  }
}
