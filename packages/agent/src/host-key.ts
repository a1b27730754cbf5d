// The SSH server's host key, made fresh for each agent process. ssh2's generateKeyPairSync("ed25519")
// returns a key its own parser rejects about once in 200 ("Malformed OpenSSH private key", measured:
// 9 of 2000), which would make the agent fail at start: keep the first key that parses.
import ssh2 from "ssh2";

export function generateHostKey(attempts = 20): string {
  for (let i = 0; i < attempts; i++) {
    const key = ssh2.utils.generateKeyPairSync("ed25519").private;
    if (!(ssh2.utils.parseKey(key) instanceof Error)) return key;
  }
  throw new Error(`could not generate an SSH host key that ssh2 can parse (${attempts} attempts)`);
}
