import { describe, expect, it } from "vitest";
import { type SessionEnvInput, sessionCommand, sessionEnv } from "../../src/ssh/login-env.js";

const base: SessionEnvInput = {
  account: { username: "dev", uid: 1000, home: "/home/dev", shell: "/bin/zsh" },
  agentEnv: {},
  extraEnv: {},
  clientEnv: {},
  connection: { clientAddress: "10.9.8.7", clientPort: 5555, serverAddress: "127.0.0.1", serverPort: 22 },
};

describe("sessionEnv", () => {
  it("sets the login variables from the account, SSH_* from the connection, a default PATH", () => {
    const env = sessionEnv(base);
    expect(env).toMatchObject({
      HOME: "/home/dev",
      USER: "dev",
      LOGNAME: "dev",
      SHELL: "/bin/zsh",
      SSH_CLIENT: "10.9.8.7 5555 22",
      SSH_CONNECTION: "10.9.8.7 5555 127.0.0.1 22",
    });
    expect(env.PATH).toContain("/usr/bin");
    expect(env.TERM).toBeUndefined();
  });

  it("layers agent env < login vars < manifest env < client env < TERM/SSH_AUTH_SOCK", () => {
    const env = sessionEnv({
      ...base,
      agentEnv: { PATH: "/opt/tool/bin:/usr/bin", HOME: "/agent-home", GOPATH: "/go", UNSET: undefined },
      extraEnv: { GOPATH: "/manifest-go", EDITOR: "vim" },
      clientEnv: { LANG: "de_DE.UTF-8", EDITOR: "nano", TERM: "client-sent" },
      term: "xterm-256color",
      authSock: "/tmp/x/agent.sock",
    });
    expect(env).toMatchObject({
      PATH: "/opt/tool/bin:/usr/bin", // the image's PATH is kept
      HOME: "/home/dev",
      GOPATH: "/manifest-go",
      EDITOR: "nano",
      LANG: "de_DE.UTF-8",
      TERM: "xterm-256color",
      SSH_AUTH_SOCK: "/tmp/x/agent.sock",
    });
    expect("UNSET" in env).toBe(false);
  });

  it("keeps the agent's secrets, Node options and terminal out of sessions", () => {
    const env = sessionEnv({
      ...base,
      agentEnv: { OUTPOST_AGENT_TOKEN: "secret", NODE_OPTIONS: "--inspect", TERM: "agent-term", SSH_AUTH_SOCK: "/agent/sock", KEEP: "1" },
      // env() may carry the agent's environment too (the agent passes its whole child environment).
      extraEnv: { TERM: "dumb", SSH_CONNECTION: "1 2 3 4", NODE_OPTIONS: "--x", ALSO: "2" },
    });
    expect(env.OUTPOST_AGENT_TOKEN).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env.TERM).toBeUndefined();
    expect(env.SSH_AUTH_SOCK).toBeUndefined();
    expect(env.KEEP).toBe("1");
    expect(env.ALSO).toBe("2");
    expect(env.SSH_CONNECTION).toBe("10.9.8.7 5555 127.0.0.1 22");
  });
});

describe("sessionCommand", () => {
  it("runs the login shell for `shell` and `$SHELL -c` for `exec`, as sshd does", () => {
    expect(sessionCommand("/bin/bash", undefined)).toEqual({ file: "/bin/bash", args: ["-l"] });
    expect(sessionCommand("/bin/bash", "echo hi; exit 3")).toEqual({ file: "/bin/bash", args: ["-c", "echo hi; exit 3"] });
  });
});
