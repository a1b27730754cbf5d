-- The agents of each build, as the provisioner reported them. The token (given to the agent through
-- its environment) is stored only as a hash; a stop, a delete or a newer build revokes it.
CREATE TABLE workspace_agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    workspace_build_id uuid NOT NULL REFERENCES workspace_builds (id),
    name text NOT NULL,
    resource_address text NOT NULL,
    spec jsonb NOT NULL,
    hashed_token bytea NOT NULL,
    revoked_at timestamptz,
    lifecycle_state text NOT NULL DEFAULT 'created'
        CHECK (lifecycle_state IN ('created', 'starting', 'ready', 'start_error', 'start_timeout', 'shutting_down', 'off')),
    first_connected_at timestamptz,
    last_connected_at timestamptz,
    disconnected_at timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (workspace_build_id, name)
);
CREATE UNIQUE INDEX workspace_agents_token_key ON workspace_agents (hashed_token) WHERE revoked_at IS NULL;
CREATE INDEX workspace_agents_workspace_idx ON workspace_agents (workspace_id) WHERE revoked_at IS NULL;
