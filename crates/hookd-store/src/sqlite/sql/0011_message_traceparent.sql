-- Version 11: the W3C trace context kept with a message (its `traceparent` header value),
-- sent with its deliveries so consumers' traces connect to the producer's. NULL: none.
ALTER TABLE messages ADD COLUMN traceparent TEXT;
