CREATE TABLE provisioner_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    hashed_secret bytea NOT NULL,
    tags jsonb NOT NULL DEFAULT '{}',
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provisioner_keys_name_key ON provisioner_keys (name);

CREATE TABLE provisioner_daemons (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    tags jsonb NOT NULL DEFAULT '{}',
    version text NOT NULL DEFAULT '',
    -- NULL for the server's built-in daemons.
    key_id uuid REFERENCES provisioner_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);

CREATE TABLE provisioner_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type text NOT NULL CHECK (type IN ('template_version_import', 'workspace_build')),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceling', 'canceled')),
    file_hash text NOT NULL REFERENCES files (hash),
    tags jsonb NOT NULL DEFAULT '{}',
    input jsonb NOT NULL DEFAULT '{}',
    worker_id uuid REFERENCES provisioner_daemons (id) ON DELETE SET NULL,
    initiator_id uuid REFERENCES users (id),
    error text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    -- Heartbeat: a running job whose daemon stops updating this is failed by the hung-job detector.
    updated_at timestamptz NOT NULL,
    completed_at timestamptz,
    canceled_at timestamptz
);
CREATE INDEX provisioner_jobs_pending_idx ON provisioner_jobs (created_at) WHERE status = 'pending';
CREATE INDEX provisioner_jobs_running_idx ON provisioner_jobs (updated_at) WHERE status IN ('running', 'canceling');

CREATE TABLE provisioner_job_logs (
    id bigserial PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    stage text NOT NULL,
    level text NOT NULL CHECK (level IN ('trace', 'debug', 'info', 'warn', 'error')),
    output text NOT NULL
);
CREATE INDEX provisioner_job_logs_job_idx ON provisioner_job_logs (job_id, id);
