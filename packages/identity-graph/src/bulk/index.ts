export { BulkMerge, BulkMergeError, type BulkMergeReport, type BulkProgress } from './bulk-merge';
export { MAX_BULK_ROWS, type BulkMergeRow, type BulkRejectedRow } from './bulk-rows';
