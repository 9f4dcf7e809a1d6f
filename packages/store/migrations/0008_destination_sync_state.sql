-- What each destination last accepted, per customer (issue 17; shared with reconciliation and backfill).
-- Forward-only: never edit this file once released.

-- One row per destination and customer: the ESP's own id of the contact, a keyed hash per attribute as the
-- ESP accepted it (HMAC under a key derived from the master key: nothing here is readable or guessable), the
-- segment / list / tag memberships and subscription states the ESP holds as far as Tessera knows (true/false per
-- segment, 'subscribed'/'unsubscribed' per channel; an absent key is unknown), and when it last changed.
-- Change-only writes read it before sending; forced writes (replay, rehydration) bypass it and then update it.
-- An erasure deletes the customer's rows.
CREATE TABLE destination_sync_state (
  destination_id text NOT NULL,
  customer_id text NOT NULL,
  external_id text,
  attribute_hashes jsonb NOT NULL DEFAULT '{}'::jsonb,
  memberships jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- True once Tessera knows every membership the ESP holds (it created the contact): a segment absent from
  -- `memberships` is then one the contact is not in, and a removal from it costs no request.
  memberships_complete boolean NOT NULL DEFAULT false,
  subscriptions jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (destination_id, customer_id)
);

-- Erasure and the DSR export look a customer up across destinations.
CREATE INDEX destination_sync_state_customer ON destination_sync_state (customer_id);
