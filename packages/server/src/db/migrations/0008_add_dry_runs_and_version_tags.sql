-- Dry runs: `templates plan` evaluates a candidate archive against each workspace of the template
-- on a provisioner and stores the per-workspace plan as the job's result.
ALTER TABLE provisioner_jobs DROP CONSTRAINT provisioner_jobs_type_check;
ALTER TABLE provisioner_jobs ADD CONSTRAINT provisioner_jobs_type_check
    CHECK (type IN ('template_version_import', 'workspace_build', 'template_version_dry_run'));
ALTER TABLE provisioner_jobs ADD COLUMN result jsonb;

-- Provisioner tags of a version: its import and every build from it go only to daemons with these tags.
ALTER TABLE template_versions ADD COLUMN provisioner_tags jsonb NOT NULL DEFAULT '{}';
