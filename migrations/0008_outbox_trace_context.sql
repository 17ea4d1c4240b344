-- Trace context (docs/architecture.md, "Trace context"): the W3C traceparent
-- of the work that wrote an outbox row (an API request, a delivery's
-- handling), which the relay publishes as the message's `traceparent`
-- header, so the message continues the trace of the order it is about.
-- NULL: written outside any trace (the reservation sweeper's pass, a tool).
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;
