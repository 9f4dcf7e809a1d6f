import { useState } from 'react';
import { errorMessageOf } from '../api-client';
import type { Review } from '../api-types';
import { JsonBlock } from '../components/json-block';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

/** Probable merges waiting for a person: approve (merge) or reject. */
export function ReviewsScreen() {
  const { api, can } = useConsole();
  const mayDecide = can('reviews.decide');
  const reviews = useApiResource(() => api.reviews('pending'), 'reviews');
  const [reason, setReason] = useState('');
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);

  async function decide(review: Review, decision: 'approve' | 'reject') {
    setBusy(String(review.id));
    setProblem(undefined);
    try {
      await api.decideReview(review.id, decision, reason.trim() || undefined);
      setStatus(`Review ${review.id} ${decision === 'approve' ? 'approved' : 'rejected'}.`);
      await reviews.reload();
    } catch (failure) {
      setProblem(`Could not ${decision} review ${review.id}: ${errorMessageOf(failure)}`);
    } finally {
      setBusy(undefined);
    }
  }

  const rows = reviews.data?.reviews ?? [];
  return (
    <>
      <h1>Review queue</h1>
      {mayDecide ? (
        <div className="field">
          <label htmlFor="review-reason">Reason for decisions (optional)</label>
          <input
            id="review-reason"
            type="text"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
        </div>
      ) : null}
      <p role="status" className="status">
        {status}
      </p>
      <ProblemAlert summary={problem} />
      <LoadState loading={reviews.loading} error={reviews.error} />
      <table>
        <caption>Pending probable merges ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Review</th>
            <th scope="col">Customers</th>
            <th scope="col">Score</th>
            <th scope="col">Model</th>
            <th scope="col">Queued</th>
            <th scope="col">Comparisons</th>
            {mayDecide ? <th scope="col">Decision</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && !reviews.loading ? (
            <tr>
              <td colSpan={mayDecide ? 7 : 6}>No pending reviews.</td>
            </tr>
          ) : null}
          {rows.map((review) => (
            <tr key={String(review.id)}>
              <th scope="row">{review.id}</th>
              <td>{(review.customerIds ?? []).join(' ↔ ')}</td>
              <td>{typeof review.score === 'number' ? review.score.toFixed(3) : ''}</td>
              <td>{review.modelVersion ?? ''}</td>
              <td>{formatDateTime(review.createdAt)}</td>
              <td>
                {review.comparisons === undefined ? (
                  ''
                ) : (
                  <details>
                    <summary>Comparisons of review {review.id}</summary>
                    <JsonBlock value={review.comparisons} label={`Comparisons of review ${review.id}`} />
                  </details>
                )}
              </td>
              {mayDecide ? (
                <td className="row-actions">
                  <button
                    type="button"
                    aria-label={`Approve review ${review.id}`}
                    disabled={busy === String(review.id)}
                    onClick={() => void decide(review, 'approve')}
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    aria-label={`Reject review ${review.id}`}
                    disabled={busy === String(review.id)}
                    onClick={() => void decide(review, 'reject')}
                  >
                    Reject
                  </button>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
