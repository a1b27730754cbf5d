CREATE TABLE templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    icon text NOT NULL DEFAULT '',
    active_version_id uuid,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX templates_name_key ON templates (lower(name)) WHERE NOT deleted;

CREATE TABLE template_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES templates (id),
    name text NOT NULL,
    message text NOT NULL DEFAULT '',
    file_hash text NOT NULL REFERENCES files (hash),
    job_id uuid NOT NULL REFERENCES provisioner_jobs (id),
    -- Filled by the import job: [{name, spec}] in declaration order, and the resources of a start build.
    parameters jsonb NOT NULL DEFAULT '[]',
    resources jsonb NOT NULL DEFAULT '[]',
    activate_on_import boolean NOT NULL DEFAULT true,
    archived boolean NOT NULL DEFAULT false,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX template_versions_name_key ON template_versions (template_id, lower(name));
CREATE INDEX template_versions_job_idx ON template_versions (job_id);

ALTER TABLE templates ADD CONSTRAINT templates_active_version_fkey FOREIGN KEY (active_version_id) REFERENCES template_versions (id);
