import type { Destination } from '../api-types';
import { formatDateTime } from '../display-format';

/** Every paused destination, with its reason and since when; nothing when none is paused. */
export function PausedBanner({ destinations }: { destinations: Destination[] | undefined }) {
  const paused = (destinations ?? []).filter((destination) => destination.state === 'paused');
  if (paused.length === 0) return null;
  return (
    <section role="alert" aria-labelledby="paused-heading" className="paused-banner">
      <h2 id="paused-heading">
        {paused.length === 1 ? '1 destination is paused' : `${paused.length} destinations are paused`}
      </h2>
      <ul>
        {paused.map((destination) => (
          <li key={destination.id}>
            <strong>{destination.id}</strong> ({destination.brand}): {destination.reason || 'no reason given'}
            {destination.changedAt ? (
              <>
                {' '}
                — since <time dateTime={destination.changedAt}>{formatDateTime(destination.changedAt)}</time>
              </>
            ) : null}
            {destination.changedBy ? ` by ${destination.changedBy}` : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
