// Every event and error of the public API, used the way an app would, checked by
// `tsc -p tests/types` (strict). Never run: it only has to type-check.
import init, {
  activate,
  ApiError,
  ClawChatClient,
  ClawChatError,
  dev,
  mintMessageId,
  SendError,
  version,
  type ApiErrorKind,
  type ChatInfo,
  type ClientErrorKind,
  type ConnectionState,
  type Fragment,
  type SendErrorKind,
  type Session,
  type TokenStorage,
  type UserProfile,
} from "clawchat-wasm";

function never(value: never): never {
  throw new Error(`unexpected ${String(value)}`);
}

/** Narrowing a fragment by `kind` gives its exact fields. */
function describe(f: Fragment): string {
  switch (f.kind) {
    case "text":
      return f.text + (f.delta ?? "");
    case "mention":
      return f.display ?? f.userId ?? "someone";
    case "image":
    case "file":
    case "audio":
    case "video":
      return `${f.kind} ${f.url} ${f.name ?? ""} ${f.size ?? 0}`;
    default:
      return never(f);
  }
}

function describeState(s: ConnectionState): string {
  switch (s.state) {
    case "connecting":
      return `connecting (attempt ${s.attempt})`;
    case "reconnecting":
      return `reconnecting in ${Math.ceil(s.delayMs / 1000)} s (attempt ${s.attempt})`;
    case "idle":
    case "handshaking":
    case "ready":
    case "closed":
    case "logged_out":
      return s.state;
    default:
      return never(s);
  }
}

/** Every `error` event kind, and what an app might do about it. */
function advise(kind: ClientErrorKind): string {
  switch (kind) {
    case "cross_request_io":
      return "keep the client in a Durable Object, or create one per request";
    case "socket":
    case "socket_send":
    case "socket_dead":
    case "session_taken_over":
    case "handshake_failed":
    case "handshake_timeout":
      return "the client reconnects by itself";
    case "malformed_frame":
    case "bad_frame":
    case "self_echo_guard":
    case "send_rejected":
      return "a frame was dropped; report it";
    case "logged_out":
      return "sign in again";
    default:
      return never(kind);
  }
}

/** REST results use the same camelCase names as events. */
function summary(me: UserProfile, chats: ChatInfo[]): string {
  const avatar: string | null = me.avatarUrl ?? null;
  const members: string[] = chats.flatMap((c) => c.memberIds);
  return `${me.nickname} ${avatar ?? "-"} ${me.bio ?? ""} ${members.length}`;
}

function explain(e: unknown): string {
  if (e instanceof SendError) {
    const kind: SendErrorKind = e.kind;
    const code: string | null = e.code;
    return `${kind} ${code ?? "-"} ${e.reason} ${e.messageId} ${e.chatId} ${e.traceId}`;
  }
  if (e instanceof ApiError) {
    const kind: ApiErrorKind = e.kind;
    const code: number | null = e.code;
    const status: number | null = e.status;
    return `${kind} ${code ?? "-"} ${status ?? "-"} ${e.path}`;
  }
  if (e instanceof ClawChatError) {
    const kind: string = e.kind;
    return `${kind}: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

const memory: TokenStorage = {
  async load(_accountKey: string) {
    return null;
  },
  async save(_row: object) {},
  async clear(_accountKey: string) {},
};

export async function main(baseUrl: string, chatId: string): Promise<void> {
  await init();
  console.log(version(), mintMessageId());
  const session: Session = await dev.signIn(baseUrl, "ann");
  const activated: Session = await activate(baseUrl, "CODE").catch(() => session);
  const client = new ClawChatClient({
    baseUrl,
    session: activated,
    storage: memory,
    logLevel: "warn",
    timings: { ackTimeoutMs: 8_000 },
  });

  const offs: Array<() => void> = [
    client.on("state", (s) => console.log(describeState(s))),
    client.on("message", (m) => {
      const texts: string[] = m.fragments.map(describe);
      console.log(m.senderName, m.text, texts, m.reply?.text, m.sentAt, m.chatType);
      // Mentions as received: user ids or `{ userId }` objects.
      const named = m.mentions.map((e) => (typeof e === "string" ? e : e.userId ?? "?"));
      console.log(named, m.mentionsMe, m.mentionsAll);
    }),
    client.on("stream", (s) => {
      const status: "streaming" | "done" | "failed" = s.status;
      console.log(s.messageId, s.text, status, s.sequence, s.reason);
    }),
    client.on("typing", (t) => console.log(t.senderName, t.isTyping, t.chatId)),
    client.on("error", (e) => console.warn(e.kind, e.message, advise(e.kind))),
    client.on("tokens", (t) => console.log(t.expiresAt === null ? "no expiry" : t.expiresAt)),
    client.on("refresh", (r) => console.log(r.outcome, r.trigger, r.reason)),
    client.on("logout", (l) => console.log(l.code, l.reason)),
    client.on("role", (r) => console.log(r.role)),
    client.on("unconfirmed", (u) => console.log(u.messageId, u.chatId, u.reason)),
    client.on("sent", (s) => console.log(s.messageId, s.acceptedAt)),
    client.on("failed", (f) => console.log(f.messageId, f.chatId, f.kind, f.reason)),
  ];

  // A WebSocket class for runtimes without a global one (e.g. `WebSocket` from `ws`).
  const withTransport = new ClawChatClient({ baseUrl, accountKey: "a", transport: WebSocket });
  withTransport.disconnect();
  // Unsubscribing twice is allowed; an unknown event name is a type error (and throws).
  offs[0]();
  offs[0]();
  // @ts-expect-error: no such event
  client.on("stat", () => {});
  // While reconnecting: try again at once.
  client.reconnectNow();

  await client.connect();
  try {
    // Options are optional.
    const receipt = await client.sendText(chatId, "hello");
    await client.sendText(chatId, "re", { replyTo: { messageId: receipt.messageId } });
    const image = await client.uploadMedia(new Blob(["x"], { type: "image/png" }), "x.png");
    await client.sendFragments(chatId, [{ kind: "text", text: "look" }, image]);
    await client.sendFragments(chatId, [{ kind: "mention", userId: client.userId }], {
      messageId: mintMessageId(),
    });
  } catch (e) {
    console.error(explain(e));
  }
  const chats = await client.chats();
  const me = await client.me();
  console.log(chats.map((c) => c.id), summary(me, chats), client.role, client.state.state);
  console.log(client.pendingSends, client.expiresAt ?? "unknown", client.deviceId);
  for (const p of await client.pending()) {
    const status: "queued" | "unconfirmed" = p.status;
    console.log(p.messageId, p.chatId, p.text, p.fragments.length, p.replyTo, p.createdAt, status);
  }
  // A page of the conversation, oldest first; the next page ends before its first message.
  const recent = await client.history(chatId);
  const older = await client.history(chatId, { before: recent[0]?.messageId, limit: 20 });
  for (const m of [...older, ...recent]) {
    console.log(m.messageId, m.senderName, m.text, m.sentAt, m.reply?.text ?? "");
  }
  const report = await client.refreshNow();
  console.log(report.outcome);
  for (const off of offs) off();
  client.disconnect();
  await client.logout();
  client.free();
}

/** `using` disposes the client at the end of the block. */
export function scoped(baseUrl: string): void {
  const client = new ClawChatClient({ baseUrl, accountKey: "ann", storage: "memory" });
  client[Symbol.dispose]();
}
