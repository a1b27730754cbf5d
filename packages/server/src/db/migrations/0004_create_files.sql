-- Uploaded template archives, addressed by content so a re-push of the same folder stores nothing new.
CREATE TABLE files (
    hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    data bytea NOT NULL,
    size integer NOT NULL,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
