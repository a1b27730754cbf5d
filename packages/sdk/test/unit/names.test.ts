import { describe, expect, it } from "vitest";
import { emailSchema, NAME_PATTERN, PASSWORD_MIN_LENGTH, passwordSchema, passwordWeakness, usernameSchema } from "../../src/names.js";

const messages = (r: { success: boolean; error?: { issues: { message: string }[] } }) => (r.success ? [] : r.error!.issues.map((i) => i.message));

describe("usernameSchema", () => {
  it.each(["a", "z", "0", "abc", "a-b", "a1", "1a", "dev-42", "a-b-c-d", "x".repeat(32), `a${"-b".repeat(15)}c`])("accepts %j", (name) => {
    expect(usernameSchema.safeParse(name).success).toBe(true);
  });

  it.each([
    ["", "must not be empty"],
    ["x".repeat(33), "must be at most 32 characters"],
    ["A", "lowercase"],
    ["Alice", "lowercase"],
    ["a_b", "lowercase"],
    ["a.b", "lowercase"],
    ["a b", "lowercase"],
    [" a", "lowercase"],
    ["a\n", "lowercase"],
    ["-a", "starting and ending with a letter or digit"],
    ["a-", "starting and ending with a letter or digit"],
    ["-", "starting and ending with a letter or digit"],
    ["a--b", "single dashes"],
    ["café", "lowercase"],
    ["ümlaut", "lowercase"],
    ["\u212Aelvin", "lowercase"], // KELVIN SIGN, which lowercases to an ASCII k
    ["ｄｅｖ", "lowercase"], // fullwidth letters
    ["dev\u200B", "lowercase"], // zero-width space
    ["пользователь", "lowercase"],
  ])("rejects %j (%s)", (name, why) => {
    const r = usernameSchema.safeParse(name);
    expect(r.success).toBe(false);
    expect(messages(r).join("; ")).toContain(why);
  });

  it("measures length in characters of the allowed alphabet: 32 is the limit with and without dashes", () => {
    expect(usernameSchema.safeParse(`${"a".repeat(30)}-b`).success).toBe(true);
    expect(usernameSchema.safeParse(`${"a".repeat(31)}-b`).success).toBe(false);
    // The pattern alone enforces the same limit (it is reused for other resource names).
    expect(NAME_PATTERN.test("a".repeat(32))).toBe(true);
    expect(NAME_PATTERN.test("a".repeat(33))).toBe(false);
  });
});

describe("emailSchema", () => {
  it.each(["alice@example.com", "first.last+tag@sub.example.co", "a_b-c@example-mail.org", "x@example.io"])("accepts %j", (email) => {
    expect(emailSchema.safeParse(email).success).toBe(true);
  });

  it.each(["", "plain", "a@", "@example.com", "a@b", "a b@example.com", "a..b@example.com", ".a@example.com", "a@-example.com", "ü@example.com", "a@example.com."])(
    "rejects %j",
    (email) => {
      const r = emailSchema.safeParse(email);
      expect(r.success).toBe(false);
      expect(messages(r)).toContain("must be a valid email address");
    },
  );

  it("rejects addresses longer than 254 characters", () => {
    const long = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}.com`;
    expect(long.length).toBe(258);
    expect(messages(emailSchema.safeParse(long))).toContain("must be at most 254 characters");
    const ok = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.com`;
    expect(ok.length).toBe(254);
    expect(emailSchema.safeParse(ok).success).toBe(true);
  });
});

describe("passwordWeakness", () => {
  it.each([
    ["", `must be at least ${PASSWORD_MIN_LENGTH} characters`],
    ["Ab1!xyz", "must be at least 8 characters"],
    ["x".repeat(257), "must be at most 256 characters"],
    ["aaaaaaaaaaaa", "must use at least 4 different characters"],
    ["abababab1111", "must use at least 4 different characters"],
    ["abcdefgh", "must mix letters with digits or symbols (or be 16+ characters)"],
    ["ABCDEFGHIJKLMNO", "must mix letters with digits or symbols (or be 16+ characters)"],
    ["12345678", "must mix letters with digits or symbols (or be 16+ characters)"],
  ])("rejects %j", (password, reason) => {
    expect(passwordWeakness(password)).toBe(reason);
  });

  it.each(["abcd1234", "Abcdefgh", "correct-horse", "abcdefghijklmnop", "x9!Qx9!Q", "пароль-пароль-1", "p".repeat(4) + "q".repeat(4) + "1!"])("accepts %j", (password) => {
    expect(passwordWeakness(password)).toBeUndefined();
  });

  it("accepts exactly the minimum and maximum lengths", () => {
    expect(passwordWeakness("abcdef12")).toBeUndefined();
    expect(passwordWeakness("abcdefghij1".repeat(23) + "abc")).toBeUndefined(); // 256 characters
    expect(("abcdefghij1".repeat(23) + "abc").length).toBe(256);
  });

  it("rejects a password containing the username or email, case-insensitively", () => {
    const related = ["alice", "alice@example.com"];
    expect(passwordWeakness("my-alice-pass1", related)).toBe("must not contain your username or email");
    expect(passwordWeakness("xxALICExx99", related)).toBe("must not contain your username or email");
    expect(passwordWeakness("alice@example.com1", related)).toBe("must not contain your username or email");
    expect(passwordWeakness("bob-secret-pass1", related)).toBeUndefined();
    // Related values shorter than 3 characters would reject too much; they are ignored.
    expect(passwordWeakness("al-secret-pass1", ["al"])).toBeUndefined();
  });

  it("reports the first problem in a fixed order (length before variety before related values)", () => {
    expect(passwordWeakness("alice", ["alice"])).toBe("must be at least 8 characters");
    expect(passwordWeakness("aliceali", ["alice"])).toBe("must mix letters with digits or symbols (or be 16+ characters)");
  });

  it("backs passwordSchema, whose issue message is the weakness", () => {
    expect(passwordSchema.safeParse("abcd1234").success).toBe(true);
    expect(messages(passwordSchema.safeParse("abcdefgh"))).toEqual(["must mix letters with digits or symbols (or be 16+ characters)"]);
    expect(passwordSchema.safeParse(12345678).success).toBe(false);
  });
});
