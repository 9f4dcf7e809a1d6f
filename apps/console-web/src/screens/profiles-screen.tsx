import { useState, type FormEvent } from 'react';
import { errorMessageOf } from '../api-client';
import type { ProfileLookup } from '../api-types';
import { JsonBlock } from '../components/json-block';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';

/** Looks a profile up by one identifier (`email:ana@example.com`, `customer_id:C1`, `member.sd:123`…). */
export function ProfilesScreen() {
  const { api, can } = useConsole();
  const [reference, setReference] = useState('');
  const [profile, setProfile] = useState<ProfileLookup | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  async function lookUp(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const wanted = reference.trim();
    if (!/^[^:]+:.+$/.test(wanted)) {
      setProblem('Write the identifier as type:value, e.g. email:ana@example.com.');
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      setProfile(await api.profile(wanted));
    } catch (failure) {
      setProfile(undefined);
      setProblem(errorMessageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Profiles</h1>
      <form onSubmit={lookUp} className="filters">
        <div className="field">
          <label htmlFor="profile-identifier">Identifier</label>
          <input
            id="profile-identifier"
            type="search"
            placeholder="email:ana@example.com"
            aria-describedby="profile-identifier-help"
            value={reference}
            onChange={(event) => setReference(event.target.value)}
          />
          <p id="profile-identifier-help" className="muted">
            type:value, where type is customer_id, email, phone, loyalty_card, anonymous_id or member.brand.
          </p>
        </div>
        <button type="submit" disabled={busy}>
          Look up
        </button>
      </form>
      <p role="status" className="status">
        {busy
          ? 'Looking up…'
          : profile
            ? `Customer ${profile.customerId}${
                profile.requestedCustomerId ? ` (${profile.requestedCustomerId} was merged into it)` : ''
              }`
            : ''}
      </p>
      <ProblemAlert summary={problem} />
      {profile ? (
        <>
          {can('pii.read') ? null : <p className="muted">Personal data is masked for your role.</p>}
          <h2>Profile</h2>
          <JsonBlock value={profile.profile} label="Profile" />

          <table>
            <caption>Identifiers</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Value</th>
                <th scope="col">Brand</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {profile.identifiers.map((identifier, index) => (
                <tr key={index}>
                  <td>{identifier.type}</td>
                  <td>{identifier.value}</td>
                  <td>{identifier.brand ?? ''}</td>
                  <td>{formatDateTime(identifier.lastSeenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>

          {profile.sharedContactPoints?.length ? (
            <table>
              <caption>Shared contact points (linking nothing here)</caption>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Value</th>
                  <th scope="col">Held by</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {profile.sharedContactPoints.map((point, index) => (
                  <tr key={index}>
                    <td>{point.type}</td>
                    <td>{point.value}</td>
                    <td>{point.heldBy}</td>
                    <td>{point.reason}</td>
                    <td>{formatDateTime(point.lastSeenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}

          <table>
            <caption>Consent</caption>
            <thead>
              <tr>
                <th scope="col">Brand</th>
                <th scope="col">Channel</th>
                <th scope="col">Purpose</th>
                <th scope="col">Status</th>
                <th scope="col">Subject</th>
                <th scope="col">Legal basis</th>
                <th scope="col">Captured</th>
              </tr>
            </thead>
            <tbody>
              {profile.consent.length === 0 ? (
                <tr>
                  <td colSpan={7}>No consent recorded.</td>
                </tr>
              ) : null}
              {profile.consent.map((entry, index) => (
                <tr key={index}>
                  <td>{entry.brand}</td>
                  <td>{entry.channel}</td>
                  <td>{entry.purpose}</td>
                  <td>{entry.status}</td>
                  <td>{entry.subject}</td>
                  <td>{entry.legalBasis ?? ''}</td>
                  <td>{formatDateTime(entry.capturedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>

          <h2>Lineage</h2>
          {profile.lineage.length === 0 ? (
            <p>No merges.</p>
          ) : (
            <JsonBlock value={profile.lineage} label="Lineage" />
          )}
          <table>
            <caption>Recent deliveries</caption>
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Destination</th>
                <th scope="col">Operation</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Event</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {profile.deliveries.length === 0 ? (
                <tr>
                  <td colSpan={7}>No deliveries.</td>
                </tr>
              ) : null}
              {profile.deliveries.map((delivery) => (
                <tr key={delivery.id}>
                  <td>
                    <time dateTime={delivery.at}>{formatDateTime(delivery.at)}</time>
                  </td>
                  <td>{delivery.destinationId}</td>
                  <td>{delivery.operation}</td>
                  <td>{delivery.status}</td>
                  <td>{delivery.attempts}</td>
                  <td>{delivery.eventId ?? ''}</td>
                  <td>{delivery.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </>
  );
}
