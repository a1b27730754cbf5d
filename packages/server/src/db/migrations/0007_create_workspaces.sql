CREATE TABLE workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL REFERENCES users (id),
    template_id uuid NOT NULL REFERENCES templates (id),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    deleted boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX workspaces_owner_name_key ON workspaces (owner_id, lower(name)) WHERE NOT deleted;
CREATE INDEX workspaces_template_idx ON workspaces (template_id) WHERE NOT deleted;

CREATE TABLE workspace_builds (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    template_version_id uuid NOT NULL REFERENCES template_versions (id),
    build_number integer NOT NULL,
    transition text NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    reason text NOT NULL DEFAULT 'initiator' CHECK (reason IN ('initiator', 'autostart', 'autostop', 'idle', 'dormancy', 'failure')),
    initiator_id uuid REFERENCES users (id),
    job_id uuid NOT NULL REFERENCES provisioner_jobs (id),
    -- [{name, value}] as resolved for this build (ephemeral values included only here).
    parameters jsonb NOT NULL DEFAULT '[]',
    -- Resource state after the build ([{address, resource, outputs}]); NULL until the job ends.
    state jsonb,
    orphan boolean NOT NULL DEFAULT false,
    daily_cost integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    UNIQUE (workspace_id, build_number)
);
CREATE INDEX workspace_builds_job_idx ON workspace_builds (job_id);
