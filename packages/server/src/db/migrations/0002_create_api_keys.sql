CREATE TABLE api_keys (
    id text PRIMARY KEY,
    hashed_secret bytea NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    login_type text NOT NULL CHECK (login_type IN ('password', 'token')),
    lifetime_seconds integer NOT NULL CHECK (lifetime_seconds > 0),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_used_at timestamptz
);

CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
CREATE UNIQUE INDEX api_keys_token_name_key ON api_keys (user_id, name) WHERE login_type = 'token';
