import { AuditDiffSchema } from "@outpost/sdk/audit";
import { describe, expect, it } from "vitest";
import { diffObjects } from "../../src/services/audit.js";

const user = {
  id: "11111111-1111-4111-8111-111111111111",
  username: "alice",
  email: "alice@example.com",
  status: "active",
  roles: ["member"],
  hashed_password: Buffer.from("argon2-hash-one"),
  created_at: new Date("2026-01-01T00:00:00Z"),
  updated_at: new Date("2026-01-01T00:00:00Z"),
  last_seen_at: new Date("2026-01-01T00:00:00Z"),
};

describe("diffObjects", () => {
  it("is empty when nothing changed, including equal dates held in different objects", () => {
    expect(diffObjects(user, { ...user, created_at: new Date(user.created_at), roles: [...user.roles] })).toEqual({});
  });

  it("records each changed field with its old and new value", () => {
    const diff = diffObjects(user, { ...user, email: "a@example.org", status: "suspended", roles: ["owner", "member"] });
    expect(diff).toEqual({
      email: { old: "alice@example.com", new: "a@example.org", secret: false },
      status: { old: "active", new: "suspended", secret: false },
      roles: { old: ["member"], new: ["owner", "member"], secret: false },
    });
    expect(AuditDiffSchema.parse(diff)).toEqual(diff);
  });

  it("writes dates as ISO strings and buffers as hex", () => {
    const later = new Date("2026-02-01T12:00:00Z");
    expect(diffObjects({ deleted_at: null }, { deleted_at: later })).toEqual({ deleted_at: { old: null, new: "2026-02-01T12:00:00.000Z", secret: false } });
    expect(diffObjects({ avatar: Buffer.from([1, 2]) }, { avatar: Buffer.from([1, 255]) })).toEqual({ avatar: { old: "0102", new: "01ff", secret: false } });
  });

  it("says a secret changed without ever revealing either value", () => {
    const before = { ...user, token: "tok-old-value", secret: "s3cr3t-old", password: "pw-old-value", hashed_secret: Buffer.from("hs-old") };
    const after = { ...user, hashed_password: Buffer.from("argon2-hash-two"), token: "tok-new-value", secret: "s3cr3t-new", password: "pw-new-value", hashed_secret: Buffer.from("hs-new") };
    const diff = diffObjects(before, after);
    for (const field of ["hashed_password", "token", "secret", "password", "hashed_secret"]) {
      expect(diff[field], field).toEqual({ old: "", new: "", secret: true });
    }
    const text = JSON.stringify(diff);
    for (const leaked of ["tok-", "s3cr3t", "pw-", Buffer.from("argon2-hash").toString("hex"), Buffer.from("hs-").toString("hex")]) {
      expect(text).not.toContain(leaked);
    }
  });

  it("leaves unchanged secrets out", () => {
    expect(diffObjects(user, { ...user, username: "alice2" })).toEqual({ username: { old: "alice", new: "alice2", secret: false } });
  });

  it("ignores bookkeeping fields that change on every write", () => {
    const touched = { ...user, updated_at: new Date("2026-03-01T00:00:00Z"), last_seen_at: new Date(), last_used_at: new Date() };
    expect(diffObjects(user, touched)).toEqual({});
  });

  it("diffs a creation (no old object) and a deletion (no new object) against nulls", () => {
    const key = { id: "k1", name: "ci", hashed_secret: Buffer.from("x"), updated_at: new Date() };
    expect(diffObjects(undefined, key)).toEqual({
      id: { old: null, new: "k1", secret: false },
      name: { old: null, new: "ci", secret: false },
      hashed_secret: { old: "", new: "", secret: true },
    });
    expect(diffObjects(key, undefined)).toEqual({
      id: { old: "k1", new: null, secret: false },
      name: { old: "ci", new: null, secret: false },
      hashed_secret: { old: "", new: "", secret: true },
    });
    expect(diffObjects(undefined, undefined)).toEqual({});
  });

  it("records a field that appears or disappears", () => {
    expect(diffObjects({ a: 1 }, { a: 1, b: "x" })).toEqual({ b: { old: null, new: "x", secret: false } });
    expect(diffObjects({ a: 1, b: "x" }, { a: 1 })).toEqual({ b: { old: "x", new: null, secret: false } });
  });
});
