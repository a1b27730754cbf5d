import type { JobLogInput } from "@outpost/sdk/provisioner";

/**
 * Batches a job's log lines and ships them every `intervalMs`, so a chatty image build does not make
 * one request per line. `flush()` sends what is pending; lines that fail to send are retried once.
 */
export class JobLogger {
  private pending: JobLogInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  stage = "Setting up";

  constructor(
    private readonly send: (logs: JobLogInput[]) => Promise<void>,
    private readonly intervalMs = 250,
  ) {}

  log(level: JobLogInput["level"], output: string): void {
    for (const line of output.split("\n")) this.pending.push({ stage: this.stage, level, output: line.slice(0, 65_536) });
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  setStage(stage: string): void {
    this.stage = stage;
    this.log("info", `== ${stage}`);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, 1000);
    if (batch.length === 0) return this.sending;
    this.sending = this.sending.then(() => this.send(batch).catch(() => this.send(batch).catch(() => undefined)));
    return this.pending.length ? this.sending.then(() => this.flush()) : this.sending;
  }
}
