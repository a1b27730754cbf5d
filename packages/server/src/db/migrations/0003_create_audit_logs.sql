CREATE TABLE audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    time timestamptz NOT NULL,
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    resource_name text NOT NULL,
    diff jsonb NOT NULL DEFAULT '{}',
    ip inet,
    user_agent text,
    status_code integer NOT NULL,
    request_id text
);

CREATE INDEX audit_logs_time_idx ON audit_logs (time DESC);
CREATE INDEX audit_logs_user_time_idx ON audit_logs (user_id, time DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
