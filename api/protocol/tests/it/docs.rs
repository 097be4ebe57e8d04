//! `docs/PROTOCOL.md`'s "Error codes" table lists exactly `ErrorCode::ALL`.

use trove_protocol::ErrorCode;

fn documented_codes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md")).unwrap();
    let section = text.split("\n## Error codes\n").nth(1).expect("an Error codes section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn protocol_md_lists_every_error_code() {
    let documented = documented_codes();
    let names: Vec<&str> = documented.iter().map(|(c, _)| c.as_str()).collect();
    let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names, ours,
        "docs/PROTOCOL.md's Error codes table and ErrorCode::ALL differ"
    );
    for (code, status) in &documented {
        let c = ErrorCode::from_wire(code).unwrap();
        if status != "—" {
            assert_eq!(status, &c.http_status().to_string(), "HTTP status of {code}");
        }
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{code}\""));
    }
}

/// The hex of each fenced block of `docs/PROTOCOL.md`'s "Worked example":
/// the leading two-digit hex tokens of every line.
fn worked_example_frames() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md")).unwrap();
    let section = text
        .split("\n#### Worked example\n")
        .nth(1)
        .expect("a Worked example section");
    let section = section.split("\n#").next().unwrap();
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| {
            block
                .lines()
                .flat_map(|l| {
                    l.split_whitespace()
                        .map_while(|t| (t.len() == 2).then(|| u8::from_str_radix(t, 16).ok()).flatten())
                        .collect::<Vec<u8>>()
                })
                .collect()
        })
        .collect()
}

#[test]
fn protocol_md_worked_msgpack_example_is_what_the_codec_writes() {
    use trove_protocol::{Codec, EventKind, EventsReply, EventsRequest, GameEvent, Op, RequestId};
    let frames = worked_example_frames();
    assert_eq!(frames.len(), 2, "a request and a reply");
    let id = RequestId::from(1u64);
    let op = Op::Events(EventsRequest {
        events: vec![GameEvent {
            player: "p1".into(),
            hunt: "h1".into(),
            kind: EventKind::ClueFound { clue: "c3".into() },
        }],
    });
    let request = Codec::MessagePack.request(&id, &op).unwrap();
    assert_eq!(request.as_bytes(), frames[0], "the request");
    assert_eq!(request.as_bytes().len(), 66);
    assert_eq!(Codec::Json.request(&id, &op).unwrap().as_bytes().len(), 93);
    let reply = EventsReply {
        ok: true,
        accepted: 1,
        seq: 1042,
    };
    let bytes = Codec::MessagePack.reply(&id, &reply).unwrap();
    assert_eq!(bytes.as_bytes(), frames[1], "the reply");
    assert_eq!(Codec::Json.reply(&id, &reply).unwrap().as_bytes().len(), 42);
    // What the server reads from the documented bytes.
    let events = Codec::MessagePack.events(&frames[0], 10).unwrap();
    assert_eq!(
        events,
        [GameEvent {
            player: "p1".into(),
            hunt: "h1".into(),
            kind: EventKind::ClueFound { clue: "c3".into() },
        }]
    );
}
