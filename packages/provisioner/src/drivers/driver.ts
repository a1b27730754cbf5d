import type { Transition } from "@outpost/template";
import type { AgentSpec } from "@outpost/template/agent";
import type { Resource } from "@outpost/template/resources";
import type { ResourceState } from "../plan.js";

export type LogLevel = "info" | "warn" | "error";

/** What a driver gets for one build. */
export interface DriverContext {
  workspaceId: string;
  /** What the build does to the workspace. On "delete", once no resource is left, applyPlan calls
   *  every driver's `deleteWorkspace` (e.g. the process driver removes the workspace directory). */
  transition: Transition;
  /** The extracted template folder (Dockerfiles and build contexts are relative to it). */
  templateDir: string;
  /** Build log: shown live to the user. Driver output (image build steps) goes here. */
  log(level: LogLevel, line: string): void;
  /** Aborted when the job is canceled; long operations must stop promptly. */
  signal: AbortSignal;
  /** Environment the agent needs to dial the server (token, URL), by agent name. */
  agentEnv(agent: AgentSpec): Record<string, string>;
  /** Outputs of resources already applied in this build, by address (e.g. a built image's id). */
  outputsOf(address: string): Record<string, unknown> | undefined;
}

/** Something a driver found by label that no recorded state owns. */
export interface OrphanResource {
  kind: string;
  id: string;
  name: string;
}

/** Thrown when the backing system is unreachable; the message names it (e.g. Docker) and how to fix it. */
export class DriverUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DriverUnavailableError";
  }
}

/**
 * A driver creates, updates and deletes resources of the types it supports. Every operation is
 * idempotent: deleting what is already gone succeeds, and creating what exists (same labels)
 * adopts it, so a failed build leaves state that the next build repairs.
 */
export interface Driver {
  readonly name: string;
  readonly types: readonly Resource["type"][];
  /** Throws DriverUnavailableError when the backing system cannot be reached. */
  check(): Promise<void>;
  create(ctx: DriverContext, resource: Resource): Promise<Record<string, unknown>>;
  update(ctx: DriverContext, resource: Resource, previous: ResourceState): Promise<Record<string, unknown>>;
  delete(ctx: DriverContext, previous: ResourceState): Promise<void>;
  /**
   * Optional: removes what the driver keeps for a workspace outside any resource, e.g. the process
   * driver's workspace directory, which must outlive a stop (the process agent goes, the directory
   * stays) but not a delete. applyPlan calls it on a "delete" build once the state is empty, also
   * when that build had nothing left to delete (stop, then delete). Idempotent.
   */
  deleteWorkspace?(ctx: DriverContext): Promise<void>;
  /** Everything labelled `outpost.workspace_id=ID`, for orphan detection and `delete --orphan`. */
  listByWorkspace(workspaceId: string): Promise<OrphanResource[]>;
}

/** The label every driver puts on what it creates. */
export const WORKSPACE_LABEL = "outpost.workspace_id";
