CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username text NOT NULL,
    email text NOT NULL,
    name text NOT NULL DEFAULT '',
    hashed_password text,
    login_type text NOT NULL DEFAULT 'password' CHECK (login_type IN ('password', 'none')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    roles text[] NOT NULL DEFAULT '{}',
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);

-- Deleted users free their username and email for reuse.
CREATE UNIQUE INDEX users_username_key ON users (lower(username)) WHERE NOT deleted;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE NOT deleted;
