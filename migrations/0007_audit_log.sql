-- The operators' audit log: every action that changed something (a replay, a
-- move or a purge of dead letters, from order-console or orderctl), and the
-- console's refused attempts (a wrong token, a POST without a valid CSRF token).
-- Rows are only ever appended.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    who     text NOT NULL,                  -- "console:<name> (<address>)" or "<user> (orderctl)"
    action  text NOT NULL,                  -- dlq.replay, dlq.move, dlq.purge, console.sign-in-refused, console.csrf-refused
    target  text NOT NULL,                  -- the queues and the filter (which messages)
    count   integer NOT NULL
            CONSTRAINT audit_log_count_nonnegative CHECK (count >= 0),
    detail  text                            -- the result's summary line
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
