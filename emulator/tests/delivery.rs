//! Today's delivery protocol (PROTOCOL.md §4) over real sockets: `replay.done` after the
//! replay, close 4001 "session taken over", and the history route.

mod common;

use clawchat_emulator::ws::{CLOSE_REPLACED, CLOSE_REPLACED_REASON};
use clawchat_wasm::protocol::{Event, Fragment};
use common::{Account, Emu};
use serde_json::{json, Value};

fn text_of(event: &Event) -> Option<String> {
    match event {
        Event::Send(p) | Event::Reply(p) => Some(
            p.message
                .body
                .fragments
                .iter()
                .filter_map(Fragment::plain_text)
                .collect(),
        ),
        _ => None,
    }
}

#[tokio::test]
async fn replay_done_follows_the_replay_and_comes_even_when_nothing_was_missed() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let mut b = emu.connect(&bob).await;
    let (before, done) = b.until_replay_done().await;
    assert!(before.is_empty());
    assert_eq!(done, json!({"count": 0}));
    drop(b);

    let mut a = emu.connect(&ann).await;
    for i in 0..3 {
        a.send_text(&chat, &format!("m{i}")).await;
        a.ack().await;
    }
    let mut b = emu.connect(&bob).await;
    let (before, done) = b.until_replay_done().await;
    let texts: Vec<String> = before.iter().filter_map(|f| text_of(&f.event)).collect();
    assert_eq!(
        texts,
        ["m0", "m1", "m2"],
        "every missed envelope comes before it"
    );
    assert_eq!(done, json!({"count": 3}));

    a.send_text(&chat, "live").await;
    assert_eq!(b.receive_texts(1).await, ["live"], "live envelopes follow");
}

#[tokio::test]
async fn a_socket_taken_over_by_the_same_user_and_device_is_closed_4001() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let mut first = emu.connect(&ann).await;
    let mut second = emu.connect(&ann).await;
    assert_eq!(
        first.close_frame().await,
        Some((CLOSE_REPLACED, CLOSE_REPLACED_REASON.to_owned()))
    );
    assert_eq!(
        (CLOSE_REPLACED, CLOSE_REPLACED_REASON),
        (4001, "session taken over")
    );
    assert_eq!(second.until_replay_done().await.1, json!({"count": 0}));
    assert_eq!(emu.stats().await["takeovers"], 1);
}

async fn history(emu: &Emu, who: &Account, chat: &str, query: &str) -> (u16, Value) {
    emu.get(
        &format!("/v1/chats/{chat}/messages{query}"),
        &who.access_token,
    )
    .await
}

fn texts(page: &Value) -> Vec<String> {
    page["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["payload"]["message"]["body"]["fragments"][0]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn history_pages_back_from_the_newest_for_members_only() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let eve = emu.sign_in("eve", "d3").await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);
    for i in 0..5 {
        let ws = if i % 2 == 0 { &mut a } else { &mut b };
        let id = ws.send_text(&chat, &format!("m{i}")).await;
        // The other side's messages may arrive before this ack.
        while !matches!(ws.next_frame().await.event, Event::Ack(ref ack) if ack.message_id == id) {}
    }

    let (status, page) = history(&emu, &bob, &chat, "?limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(texts(&page), ["m3", "m4"], "the newest page, oldest first");
    assert_eq!(page["data"]["has_more"], true);
    let item = &page["data"]["items"][1];
    assert_eq!(item["event"], "message.send");
    assert_eq!(item["chat_id"], chat.as_str());
    assert_eq!(item["chat_type"], "direct");
    assert_eq!(
        item["sender"]["id"],
        ann.user_id.as_str(),
        "own messages are in history too"
    );
    assert!(item["payload"]["message_id"]
        .as_str()
        .unwrap()
        .starts_with("msg-"));
    assert!(item["accepted_at"].as_i64().unwrap() > 0);

    let oldest_id = page["data"]["items"][0]["payload"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, older) = history(&emu, &ann, &chat, &format!("?before={oldest_id}&limit=2")).await;
    assert_eq!(
        (texts(&older), older["data"]["has_more"].clone()),
        (vec!["m1".into(), "m2".into()], json!(true))
    );
    let first_id = older["data"]["items"][0]["payload"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, last) = history(&emu, &ann, &chat, &format!("?before={first_id}")).await;
    assert_eq!(
        (texts(&last), last["data"]["has_more"].clone()),
        (vec!["m0".into()], json!(false))
    );

    let (_, all) = history(&emu, &ann, &chat, "").await;
    assert_eq!(
        texts(&all),
        ["m0", "m1", "m2", "m3", "m4"],
        "default limit 50"
    );

    let (status, body) = history(&emu, &eve, &chat, "").await;
    assert_eq!(
        (status, body["data"].clone()),
        (404, Value::Null),
        "members only"
    );
    for bad in ["?limit=0", "?limit=201", "?limit=x", "?before=msg-unknown"] {
        let (status, body) = history(&emu, &ann, &chat, bad).await;
        assert_eq!((status, body["code"].as_i64()), (400, Some(400)), "{bad}");
    }
    let (status, _) = history(&emu, &ann, &chat, "?limit=200").await;
    assert_eq!(status, 200);
}
