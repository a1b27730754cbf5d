-- What connected agents report (DESIGN.md, "Agent and connections"): their version, lifecycle, metadata
-- results, listening ports and stats, and their logs. `heartbeat_at` is refreshed while a server holds the
-- agent's connection, so a row whose server died stops reading "connected" (see services/agents.ts).
ALTER TABLE workspace_agents
    ADD COLUMN version text,
    ADD COLUMN api_version integer,
    ADD COLUMN lifecycle_changed_at timestamptz,
    ADD COLUMN heartbeat_at timestamptz,
    -- {key: MetadataResult}, merged per key as results arrive.
    ADD COLUMN metadata_results jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN listening_ports jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN stats jsonb,
    ADD COLUMN last_activity_at timestamptz,
    -- The log cap: past 10,000 lines or 5 MiB per agent, one marker line is stored and the rest dropped.
    ADD COLUMN logs_count integer NOT NULL DEFAULT 0,
    ADD COLUMN logs_bytes bigint NOT NULL DEFAULT 0,
    ADD COLUMN logs_overflowed boolean NOT NULL DEFAULT false;

CREATE TABLE workspace_agent_logs (
    id bigserial PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES workspace_agents (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    level text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    source text NOT NULL CHECK (source IN ('startup_script', 'agent')),
    output text NOT NULL
);
CREATE INDEX workspace_agent_logs_agent_idx ON workspace_agent_logs (agent_id, id);
