import { useState } from 'react';
import { errorMessageOf } from '../api-client';
import { DESTINATION_STATES, type Destination, type DestinationState } from '../api-types';
import { LoadState } from '../components/load-state';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';
import { hrefOf } from '../use-hash-route';

/**
 * The states a key may set from `current`: `destinations.toggle` sets every state, `destinations.pause` alone pauses
 * an enabled destination and resumes a paused one.
 */
function allowedStates(current: DestinationState, toggle: boolean, pause: boolean): Set<DestinationState> {
  if (toggle) return new Set(DESTINATION_STATES);
  const allowed = new Set<DestinationState>([current]);
  if (pause && current === 'enabled') allowed.add('paused');
  if (pause && current === 'paused') allowed.add('enabled');
  return allowed;
}

/** The brand × destination matrix with each destination's state control, and the deployment's types. */
export function DestinationsScreen() {
  const { api, can, destinations, destinationsError, refreshDestinations } = useConsole();
  const brands = useApiResource(() => api.brands(), 'brands');
  const types = useApiResource(() => api.destinationTypes(), 'destination-types');
  const [reason, setReason] = useState('');
  const [status, setStatus] = useState('');
  /** The destination being changed and the state asked for, shown until the API answers. */
  const [pending, setPending] = useState<{ id: string; state: DestinationState } | undefined>(undefined);

  const toggle = can('destinations.toggle');
  const pause = can('destinations.pause');
  const mayChange = toggle || pause;
  const mayEditMappings = can('mappings.write') || can('mappings.preview');

  async function changeState(destination: Destination, state: DestinationState) {
    // Not disabled while a change is under way (that would take the focus away): later changes wait.
    if (state === destination.state || pending !== undefined) return;
    setPending({ id: destination.id, state });
    setStatus(`Setting ${destination.id} to ${state}…`);
    try {
      const changed = await api.setDestinationState(destination.id, state, reason.trim() || undefined);
      setStatus(`${changed.id} is now ${changed.state}.`);
      await refreshDestinations();
    } catch (failure) {
      setStatus(`Could not set ${destination.id} to ${state}: ${errorMessageOf(failure)}`);
    } finally {
      setPending(undefined);
    }
  }

  const brandIds = [
    ...new Set([
      ...(brands.data?.brands ?? []).map((brand) => brand.id),
      ...(destinations ?? []).map((destination) => destination.brand),
    ]),
  ];
  const brandName = (id: string) => brands.data?.brands.find((brand) => brand.id === id)?.name ?? id;
  const titleOfType = (type: string) => types.data?.types.find((entry) => entry.type === type)?.title ?? type;
  const selectedTypes = (types.data?.types ?? []).filter((type) => type.selected);

  return (
    <>
      <h1>Destinations</h1>
      {mayChange ? (
        <div className="field">
          <label htmlFor="state-reason">Reason for state changes (optional)</label>
          <input
            id="state-reason"
            type="text"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
        </div>
      ) : null}
      <p role="status" aria-live="polite" className="status" id="destination-status">
        {status}
      </p>
      <LoadState loading={destinations === undefined && !destinationsError} error={destinationsError} />

      {brandIds.map((brandId) => {
        const rows = (destinations ?? []).filter((destination) => destination.brand === brandId);
        return (
          <table key={brandId} className="matrix">
            <caption>
              {brandName(brandId)} <span className="muted">({brandId})</span>
            </caption>
            <thead>
              <tr>
                <th scope="col">Destination</th>
                <th scope="col">Type</th>
                <th scope="col">Deployed</th>
                <th scope="col">State</th>
                <th scope="col">Reason</th>
                <th scope="col">Changed</th>
                <th scope="col">Dead letters</th>
                <th scope="col">Mappings</th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colSpan={8}>No destinations.</td>
                </tr>
              ) : null}
              {rows.map((destination) => {
                const allowed = allowedStates(destination.state, toggle, pause);
                const selectId = `state-${destination.id}`;
                return (
                  <tr key={destination.id}>
                    <th scope="row">{destination.id}</th>
                    <td>{titleOfType(destination.type)}</td>
                    <td>{destination.deployed ? 'yes' : 'no (type not in this deployment)'}</td>
                    <td>
                      {mayChange ? (
                        <>
                          <label htmlFor={selectId} className="visually-hidden">
                            State of {destination.id}
                          </label>
                          <select
                            id={selectId}
                            value={pending?.id === destination.id ? pending.state : destination.state}
                            aria-busy={pending?.id === destination.id}
                            aria-describedby="destination-status"
                            onChange={(event) =>
                              void changeState(destination, event.target.value as DestinationState)
                            }
                          >
                            {DESTINATION_STATES.map((state) => (
                              <option key={state} value={state} disabled={!allowed.has(state)}>
                                {state}
                              </option>
                            ))}
                          </select>
                        </>
                      ) : (
                        <span className={`state state-${destination.state}`}>{destination.state}</span>
                      )}
                    </td>
                    <td>{destination.reason ?? ''}</td>
                    <td>
                      {formatDateTime(destination.changedAt)}
                      {destination.changedBy ? ` by ${destination.changedBy}` : ''}
                    </td>
                    <td>{destination.deadLetters}</td>
                    <td>
                      {mayEditMappings ? (
                        <a href={hrefOf('mappings', destination.id)}>Edit mappings of {destination.id}</a>
                      ) : (
                        `version ${destination.mappingsVersion}`
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        );
      })}

      <section aria-labelledby="types-heading">
        <h2 id="types-heading">Destination types of this deployment</h2>
        <LoadState loading={types.loading} error={types.error} />
        {types.data ? (
          <>
            <p>
              Selected:{' '}
              {selectedTypes.length > 0
                ? selectedTypes.map((type) => `${type.title} (${type.type})`).join(', ')
                : 'none'}
            </p>
            <table>
              <caption>Destination types of the build</caption>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Title</th>
                  <th scope="col">Selected</th>
                  <th scope="col">Operations</th>
                </tr>
              </thead>
              <tbody>
                {types.data.types.map((type) => (
                  <tr key={type.type}>
                    <th scope="row">{type.type}</th>
                    <td>{type.title}</td>
                    <td>{type.selected ? 'yes' : 'no'}</td>
                    <td>{type.operations.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </section>
    </>
  );
}
