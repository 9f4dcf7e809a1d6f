import { useEffect, useRef } from 'react';

/** A secret the API returns once: shown with a warning, and focused so that it is noticed. */
export function SecretOnce({
  title,
  secret,
  onDismiss,
}: {
  title: string;
  secret: string;
  onDismiss(): void;
}) {
  const region = useRef<HTMLElement>(null);
  useEffect(() => region.current?.focus(), [secret]);
  return (
    <section className="secret-once" aria-labelledby="secret-once-heading" tabIndex={-1} ref={region}>
      <h2 id="secret-once-heading">{title}</h2>
      <p className="warning">
        <strong>Copy it now: it is shown only once.</strong> It cannot be read back later.
      </p>
      <label htmlFor="secret-once-value">Secret</label>
      <input
        id="secret-once-value"
        type="text"
        readOnly
        value={secret}
        onFocus={(event) => event.target.select()}
        className="code"
      />
      <button type="button" onClick={onDismiss}>
        I have copied it
      </button>
    </section>
  );
}
