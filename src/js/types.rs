//! TypeScript declarations of the values crossing the JS boundary.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
declare global {
  interface SymbolConstructor {
    /**
     * `Symbol.dispose` (explicit resource management), declared here as well so that
     * `client[Symbol.dispose]()` type-checks without `lib: ["esnext.disposable"]`.
     */
    readonly dispose: unique symbol;
  }
}

/** An account's credentials, as returned by `dev.signIn` / `activate`. */
export interface Session {
  userId: string;
  accessToken: string;
  refreshToken?: string | null;
  deviceId?: string | null;
  nickname?: string | null;
  websocketUrl?: string | null;
  activatedAt?: number | null;
}

/** Overrides of the client's timings (milliseconds). */
export interface ClawChatTimings {
  handshakeTimeoutMs?: number;
  ackTimeoutMs?: number;
  pingIntervalMs?: number;
  deadAfterMs?: number;
  streamStallMs?: number;
  maxQueueAgeMs?: number;
  backoffInitialMs?: number;
  backoffCapMs?: number;
  /** Floor between refresh attempts (default 30 000, the protocol's). */
  refreshFloorMs?: number;
}

/** An app-supplied token store (edge runtimes): rows are opaque objects to keep as-is. */
export interface TokenStorage {
  load(accountKey: string): Promise<object | null | undefined>;
  save(row: object): Promise<void>;
  clear(accountKey: string): Promise<void>;
}

export interface ClawChatOptions {
  /** REST base URL (http:// or https://). */
  baseUrl: string;
  /** WebSocket URL; defaults to the base URL's host with /ws. */
  websocketUrl?: string;
  /** Device id override (wins over the session's). */
  deviceId?: string;
  logLevel?: "debug" | "info" | "warn" | "error" | "silent";
  /** Storage key and tab-channel name of the account (default: the session's userId). */
  accountKey?: string;
  /** Where the session is persisted (default "indexeddb"). */
  storage?: "indexeddb" | "memory" | TokenStorage;
  /** A fresh session (e.g. from `activate`); omit to resume the stored one. */
  session?: Session;
  timings?: ClawChatTimings;
  /**
   * Messages kept per chat in the local message cache (IndexedDB with "indexeddb"
   * storage, else this realm's memory): an integer from 1 to 1000, default 200. A chat
   * is trimmed back to it once it holds twice as many in IndexedDB, a quarter more in
   * memory; `history()` never returns more.
   */
  cacheSize?: number;
  /**
   * A WebSocket class with the browser API, used instead of the global `WebSocket`
   * (Node 20 has none: pass `WebSocket` from the `ws` package). Without either, `connect()`
   * emits an `error` event and the client goes to the `closed` state.
   */
  transport?: new (url: string) => unknown;
}

/** What a refresh came to (never contains a token). */
export interface RefreshReport {
  outcome: "success" | "adopted" | "transient" | "permanent" | "skipped";
  trigger: "proactive" | "pre_connect" | "hello_fail" | "rest_unauthorized" | "wake" | "manual" | "retry";
  reason: string | null;
}

/** This tab's part in its account's connection. */
export type TabRole = "idle" | "follower" | "leader" | "solo";

export interface TokensEvent { expiresAt: number | null }
export interface LogoutEvent { code: number; reason: string }

/** Text; `delta` is what a streaming update appended. */
export interface TextFragment { kind: "text"; text: string; delta?: string }
/** A mention of the user `userId` (`"all"`: everyone in the chat). */
export interface MentionFragment { kind: "mention"; userId?: string; display?: string }
export interface MediaFragment {
  kind: "image" | "file" | "audio" | "video";
  url: string;
  name?: string;
  mime?: string;
  size?: number;
  width?: number;
  height?: number;
  duration?: number;
}
/**
 * A fragment: narrow it with `kind` (`if (f.kind === "text") f.text`). Fragments of a kind
 * this version does not know are passed through as received; handle them in the
 * `default` branch of a switch (`f as unknown as UnsupportedFragment`). Every key is
 * camelCase, like everything else the client hands you or takes.
 */
export type Fragment = TextFragment | MentionFragment | MediaFragment;
/** A fragment of a kind this client does not know, kept as received (keys camelCase). */
export interface UnsupportedFragment { kind?: unknown; [key: string]: unknown }

/**
 * An entry of a message's `mentions`, as received: a user id, or an object with `userId`
 * (`"all"`: everyone in the chat).
 */
export type MentionEntry = string | { userId?: string; [key: string]: unknown };

/** The message to reply to (its id, sender name and fragments for the preview). */
export interface ReplyTarget { messageId: string; nickName?: string; fragments?: Fragment[] }

export interface SendOptions {
  replyTo?: ReplyTarget;
  /** Reuse the id of an earlier failed send (the server coalesces duplicates). */
  messageId?: string;
}

/**
 * Options of `history()`. A page holds the newest `limit` messages older than `before`
 * (the newest of the chat without it), oldest first.
 */
export interface HistoryOptions {
  /** The id of the oldest message the app has: the page ends just before it. */
  before?: string;
  /** Messages per page: an integer from 1 to 100 (default 50). */
  limit?: number;
}

export interface SendReceipt { messageId: string; acceptedAt: number }

/** The `kind` of a `SendError`. */
export type SendErrorKind =
  | "rejected" | "chat_closed" | "ack_mismatch" | "expired" | "queue_full"
  | "closed" | "invalid" | "relay" | "freed";
/** The `kind` of an `ApiError`. */
export type ApiErrorKind = "validation" | "api" | "transport" | "auth";

/** Every error the client throws or rejects with: an `Error` with a stable `kind`. */
export declare class ClawChatError extends Error {
  /** Built by the client only. */
  protected constructor();
  readonly kind: string;
}

/** What a failed REST call (or sign-in, activation) rejects with. */
export declare class ApiError extends ClawChatError {
  readonly kind: ApiErrorKind;
  /** The API's error code, when the server answered with one. */
  readonly code: number | null;
  /** The HTTP status, when there was an answer. */
  readonly status: number | null;
  readonly path: string;
}

/** What a failed send rejects with. */
export declare class SendError extends ClawChatError {
  readonly kind: SendErrorKind;
  /** The server's refusal code, if it refused. */
  readonly code: string | null;
  readonly reason: string;
  readonly messageId: string;
  readonly chatId: string;
  readonly traceId: string;
}

export type ConnectionState =
  | { state: "idle" }
  | { state: "connecting"; attempt: number }
  | { state: "handshaking" }
  | { state: "ready" }
  | { state: "reconnecting"; attempt: number; delayMs: number }
  | { state: "closed" }
  | { state: "logged_out" };

interface Origin { chatId: string; chatType: "direct" | "group"; senderId: string; senderName: string }

export interface InboundMessage extends Origin {
  messageId: string;
  fragments: Fragment[];
  text: string;
  mentions: MentionEntry[];
  /** A mention names this user. */
  mentionsMe: boolean;
  /** A mention names everyone in the chat (`userId: "all"`). */
  mentionsAll: boolean;
  reply: { messageId: string; nickName: string; fragments: Fragment[]; text: string } | null;
  sentAt: number;
}

/**
 * A streamed message as it stands: the whole message so far on every event. Events of
 * one message come at most every 16 ms, and less often as the live streams grow (about
 * 1 MB of text a second for the whole client); the updates in between are in the next
 * one, so `sequence` may skip, and the last update before a pause comes up to that gap
 * late. The final one (`done`, `failed`) comes at once, and held updates come before a
 * `disconnect()` or logout takes effect; a `message` event of the same id ends the
 * stream (no `stream` event of it comes after).
 */
export interface StreamUpdate extends Origin {
  messageId: string;
  fragments: Fragment[];
  text: string;
  status: "streaming" | "done" | "failed";
  sequence: number;
  reason: string | null;
}

export interface TypingUpdate extends Origin { isTyping: boolean }

/**
 * The `kind` of an `error` event (the client goes on after each):
 * - "socket": no socket could be opened (with no `WebSocket` at all, the client stays closed);
 * - "socket_send": the socket refused a frame; the client reconnects and sends again;
 * - "cross_request_io": a Worker reused the client in a later request, whose I/O may not
 *   touch the earlier request's socket; the client reconnects within this request and sends
 *   again (keep the client in a Durable Object, or create one per request);
 * - "socket_dead": no answer to a ping; "session_taken_over": another connection of this
 *   device took over; "handshake_failed" / "handshake_timeout": the hub refused or did not
 *   finish the handshake (the client backs off and retries);
 * - "malformed_frame" / "bad_frame": a frame that was not understood or broke the bounds;
 *   "self_echo_guard": message frames refused while this client's user id is unknown;
 * - "send_rejected": the hub refused a frame that is no queued send (a queued one ends
 *   with a `failed` event instead); "logged_out": `connect()` after `logout()`.
 */
export type ClientErrorKind =
  | "socket" | "socket_send" | "cross_request_io" | "socket_dead" | "session_taken_over"
  | "handshake_failed" | "handshake_timeout" | "malformed_frame" | "bad_frame"
  | "self_echo_guard" | "send_rejected" | "logged_out";

export interface ClientErrorEvent { kind: ClientErrorKind; message: string }

/** A send whose ack did not come in time: it may have arrived; it stays queued and is
 * sent again, with the same id, on the next connection (the server coalesces). */
export interface UnconfirmedSend { messageId: string; chatId: string; traceId: string; reason: string }

/** A queued send as stored (`pending()`): listed by every tab of the account and after a
 * reload, until its `sent` or `failed` event. */
export interface PendingSend {
  messageId: string;
  chatId: string;
  /** The plain text of its fragments. */
  text: string;
  fragments: Fragment[];
  /** The message replied to, for replies. */
  replyTo: string | null;
  /** When the app asked to send (epoch ms). */
  createdAt: number;
  /** "unconfirmed": written but not acked in time (may have been delivered). */
  status: "queued" | "unconfirmed";
}

/** The `failed` event: a plain object with the fields of a `SendError`. */
export interface FailedSend {
  kind: SendErrorKind;
  code: string | null;
  reason: string;
  messageId: string;
  chatId: string;
  traceId: string;
}

export interface ClawChatEventMap {
  state: ConnectionState;
  message: InboundMessage;
  stream: StreamUpdate;
  typing: TypingUpdate;
  error: ClientErrorEvent;
  tokens: TokensEvent;
  refresh: RefreshReport;
  logout: LogoutEvent;
  unconfirmed: UnconfirmedSend;
  /** A queued send was acked (also one made before a reload or in another tab). */
  sent: SendReceipt;
  /** A queued send ended without an ack (also one made before a reload or in another tab). */
  failed: FailedSend;
  role: { role: TabRole };
  /** Something the app should know, e.g. the session is kept in memory only. */
  warn: { message: string };
}

/** A user's profile (REST results come with camelCase keys: the API's `avatar_url` is `avatarUrl`). */
export interface UserProfile { id: string; nickname: string; avatarUrl?: string | null; bio?: string | null }
/** A chat with its members (the API's `member_ids` is `memberIds` here). */
export interface ChatInfo { id: string; type: "direct" | "group"; name: string; memberIds: string[] }

export interface ClawChatClient {
  /**
   * Registers a handler; returns a function that unregisters it (calling it again does
   * nothing). An unknown event or a handler that is not a function throws a
   * `ClawChatError` of kind "validation".
   */
  on<K extends keyof ClawChatEventMap>(event: K, handler: (payload: ClawChatEventMap[K]) => void): () => void;
}
"#;
