/** "Loading…" or the load's error, in a polite live region. */
export function LoadState({ loading, error }: { loading: boolean; error: string | undefined }) {
  return (
    <p role="status" className={error ? 'status error' : 'status'}>
      {error ? `Could not load: ${error}` : loading ? 'Loading…' : ''}
    </p>
  );
}
