//! The codec against serde_json as the oracle: the same texts accepted and refused, the
//! same strings read, the same text written.

use std::borrow::Cow;

use serde_json::Value;

use super::*;

/// Whether our reader takes `text` as one JSON value.
fn accepts(text: &str) -> bool {
    let mut reader = Reader::new(text);
    reader.skip().and_then(|()| reader.finish()).is_ok()
}

const DOCUMENTS: &[&str] = &[
    r#"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-0.5e-3,"g":""}"#,
    r#"  [ 1 , 2.0 , -3E+2 , "x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00" ]  "#,
    r#""\u0000""#,
    "0",
    "-0",
    "123456789012345678901234567890",
    "{}",
    "[]",
    "[[[[]]]]",
    r#"{"":{"":[{}]}}"#,
    "\"caf\u{e9} \u{1f642}\"",
];

const NOT_JSON: &[&str] = &[
    "",
    " ",
    "{",
    "}",
    "[1,]",
    "[,1]",
    r#"{"a":1,}"#,
    r#"{"a" 1}"#,
    r#"{a:1}"#,
    "01",
    "1.",
    ".5",
    "1e",
    "+1",
    "-",
    "tru",
    "nul",
    "truex",
    r#""abc"#,
    "\"a\u{1}b\"",
    r#""\x""#,
    r#""\u12""#,
    r#""\ud83d""#,
    r#""\ude00""#,
    r#""\ud83d\u0041""#,
    "[1] [2]",
    "{\"a\":1}}",
    "NaN",
    "Infinity",
];

#[test]
fn accepts_what_serde_json_accepts() {
    for text in DOCUMENTS {
        assert!(valid_json(text), "{text}");
        assert!(accepts(text), "{text}");
    }
    for text in NOT_JSON {
        assert!(!valid_json(text), "{text}");
        assert!(!accepts(text), "{text}");
    }
}

/// Whether serde_json's reading says the text is JSON: a number beyond f64's range is
/// (ours skips it like any number; only an `f64` field refuses it), and
/// serde_json's own skip (`IgnoredAny`) decides those.
fn valid_json(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(_) => true,
        Err(err) if err.to_string().starts_with("number out of range") => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        }
        Err(_) => false,
    }
}

/// A small deterministic generator (xorshift64*), so the mutation test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_documents_are_judged_like_serde_json() {
    let alphabet: Vec<char> = "{}[],:\"\\ 0123456789.-+eEtrufalsn/bu\u{e9}\u{1}"
        .chars()
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..60_000 {
        let mut text: Vec<char> = DOCUMENTS[round % DOCUMENTS.len()].chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(text.len() + 1);
            match rng.below(3) {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 if at < text.len() => text[at] = alphabet[rng.below(alphabet.len())],
                _ => text.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        let text: String = text.into_iter().collect();
        let expected = serde_json::from_str::<Value>(&text);
        assert_eq!(accepts(&text), valid_json(&text), "{text:?}");
        if let (Ok(Value::String(expected)), Ok(ours)) = (&expected, from_str::<String>(&text)) {
            assert_eq!(&ours, expected, "{text:?}");
        }
    }
}

#[test]
fn escapes_read_as_serde_json_reads_them() {
    for text in [
        r#""\ud83d\ude00 \udbff\udfff \ud800\udc00 \u00e9\u0000\/""#,
        r#""a\"b\\c\bd\fe\nf\rg\th""#,
    ] {
        let expected: String = serde_json::from_str(text).unwrap();
        assert_eq!(from_str::<String>(text).unwrap(), expected);
    }
}

#[test]
fn strings_borrow_unless_escaped() {
    let mut reader = Reader::new(r#"["plain","esc\"aped"]"#);
    let mut read = Vec::new();
    reader
        .array(|reader| {
            read.push(reader.string()?);
            Ok(())
        })
        .unwrap();
    assert!(matches!(read[0], Cow::Borrowed("plain")));
    assert!(matches!(&read[1], Cow::Owned(s) if s == "esc\"aped"));
}

#[test]
fn nesting_is_bounded_where_values_are_read_into_types() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(from_str::<RawJson>(&deep), Err(JsonError::TooDeep));
    let fine = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert!(from_str::<RawJson>(&fine).is_ok());
    // Skipped or passed on whole, any depth goes (on a stack of its own, not recursion),
    // in place of a value read into a type too.
    let very_deep = format!(
        r#"{{"a":{}{}{}}}"#,
        r#"[{"b":"#.repeat(100_000),
        "1",
        "}]".repeat(100_000)
    );
    assert!(accepts(&very_deep));
    assert_eq!(from_str::<Vec<Value2>>(&deep), Ok(vec![Value2]));
    let mut reader = Reader::new(&very_deep);
    let mut raw = "";
    reader
        .object(|reader, _| {
            raw = reader.raw()?;
            Ok(())
        })
        .unwrap();
    assert_eq!(raw.len(), very_deep.len() - 6);
    for broken in [&very_deep[1..], &very_deep[..very_deep.len() - 2]] {
        assert!(!accepts(broken));
    }
}

/// Any value, skipped: for the depth test through `FromJson`.
#[derive(Debug, PartialEq)]
struct Value2;

impl FromJson<'_> for Value2 {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        reader.skip().map(|()| Value2)
    }
}

#[test]
fn numbers_fit_their_type_or_fail() {
    assert_eq!(from_str::<i64>("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(from_str::<u64>("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(from_str::<u8>("255"), Ok(255));
    assert_eq!(from_str::<u8>("256"), Err(JsonError::Number { at: 0 }));
    assert_eq!(from_str::<u64>("-1"), Err(JsonError::Number { at: 0 }));
    assert_eq!(from_str::<i64>(" 1.5"), Err(JsonError::Number { at: 1 }));
    assert_eq!(from_str::<i64>("1e3"), Err(JsonError::Number { at: 0 }));
    assert_eq!(from_str::<f64>("1e3"), Ok(1000.0));
    assert_eq!(from_str::<f64>("1e999"), Err(JsonError::Number { at: 0 }));
    assert_eq!(
        from_str::<i64>("\"1\""),
        Err(JsonError::Type {
            expected: "a number",
            at: 0
        })
    );
}

#[test]
fn objects_pass_each_key_and_need_the_value_consumed() {
    let mut seen = Vec::new();
    let mut reader = Reader::new(r#"{"a":1,"b\n":{"c":[2]},"a":3}"#);
    reader
        .object(|reader, key| {
            seen.push(key.to_owned());
            reader.skip()
        })
        .unwrap();
    assert_eq!(seen, ["a", "b\n", "a"]);
    // A field callback that leaves its value unread makes the object malformed.
    let mut reader = Reader::new(r#"{"a":1}"#);
    assert!(reader.object(|_, _| Ok(())).is_err());
}

#[test]
fn raw_is_the_value_as_written() {
    let mut reader = Reader::new(r#"{"p": {"x" : [1, "2"]} , "q":null}"#);
    let mut raw = Vec::new();
    reader
        .object(|reader, _| {
            raw.push(reader.raw()?);
            Ok(())
        })
        .unwrap();
    assert_eq!(raw, [r#"{"x" : [1, "2"]}"#, "null"]);
}

#[test]
fn errors_never_quote_the_text() {
    let secret = "eyJhbGciOiJIUzI1NiJ9.secret";
    for text in [
        format!(r#"{{"token":"{secret}"#),
        format!(r#"{{"token":"{secret}","n":x}}"#),
    ] {
        let err = from_str::<Vec<String>>(&text).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}

#[test]
fn writes_what_serde_json_writes() {
    let every_byte: String = (0u8..0x80).map(char::from).collect();
    for text in [
        "",
        "plain",
        every_byte.as_str(),
        "caf\u{e9} \u{1f642} \u{2028}",
    ] {
        assert_eq!(to_string(text), serde_json::to_string(text).unwrap());
    }
    for number in [0i64, 7, -7, 10, 1_000_000, i64::MIN, i64::MAX] {
        assert_eq!(to_string(&number), number.to_string());
    }
    assert_eq!(to_string(&u64::MAX), u64::MAX.to_string());

    let mut writer = Writer::default();
    let mut object = writer.object();
    object
        .field("a", "x")
        .field("b", &vec![Some(1u32), None])
        .field_some("c", &None::<bool>)
        .field_some("d", &Some(true));
    object.key("e").raw(r#"{"f":[]}"#);
    object.end();
    assert_eq!(
        writer.finish(),
        r#"{"a":"x","b":[1,null],"d":true,"e":{"f":[]}}"#
    );
}

#[test]
fn raw_values_keep_their_text_and_write_what_serde_json_reads_as_the_same_value() {
    for text in DOCUMENTS {
        let expected: Value = serde_json::from_str(text).unwrap();
        let raw: RawJson = from_str(text).unwrap();
        assert_eq!(raw.text(), text.trim());
        let written: Value = serde_json::from_str(&to_string(&raw)).unwrap();
        assert_eq!(written, expected, "{text}");
    }
    // Compact, strings escaped as serde_json escapes them, numbers and key order as
    // received.
    let raw: RawJson = from_str(r#" { "b" : [1.50, -0, 1E2, "\u00e9\/"], "a" : {} } "#).unwrap();
    assert_eq!(to_string(&raw), r#"{"b":[1.50,-0,1E2,"é/"],"a":{}}"#);
    // Beyond f64: refused where it is (as a serde_json `Value` refused it), though
    // `skip` takes it.
    assert_eq!(
        from_str::<Vec<RawJson>>(r#"[0, {"a": [1e999]}]"#),
        Err(JsonError::Number { at: 11 })
    );
    assert_eq!(
        from_str::<RawJson>("[1e308, -1e308, 1e-999, 123456789012345678901234567890]")
            .map(|raw| raw.all_numbers(|n| !n.contains('e'))),
        Ok(false)
    );
    assert!(from_str::<RawJson>(r#"[1,"x"]"#).is_ok_and(|raw| raw.all_numbers(|n| n == "1")));
    for not_json in NOT_JSON {
        assert!(from_str::<RawJson>(not_json).is_err(), "{not_json}");
    }
}

#[test]
fn raw_values_give_their_string_and_an_object_s_string_fields() {
    let raw = |text: &str| from_str::<RawJson>(text).unwrap();
    assert_eq!(raw(r#""a\"b""#).as_str().as_deref(), Some("a\"b"));
    assert_eq!(raw("1").as_str(), None);
    assert_eq!(raw(r#"{"user_id":"u"}"#).as_str(), None);
    let object = raw(r#"{"user_id":7,"a":{"user_id":"x"},"user_\u0069d":"u2","n":null}"#);
    assert_eq!(object.str_field("user_id").as_deref(), Some("u2"));
    assert_eq!(object.str_field("n"), None);
    assert_eq!(object.str_field("b"), None);
    // The last of a repeated key counts, as in a JSON map (and in JS).
    assert_eq!(
        raw(r#"{"user_id":"u","user_id":1}"#).str_field("user_id"),
        None
    );
    assert_eq!(raw(r#"["user_id","u"]"#).str_field("user_id"), None);
    assert_eq!(
        to_string(&RawJson::empty_object()),
        serde_json::json!({}).to_string()
    );
}

#[test]
fn a_camel_case_writer_renames_keys_only_and_a_snake_case_writer_back() {
    let text = r#"{"user_id":"a_b","_x":[{"nick_name":1}],"ok":true}"#;
    let raw: RawJson = from_str(text).unwrap();
    let camel = to_string_camel(&raw);
    assert_eq!(camel, r#"{"userId":"a_b","_x":[{"nickName":1}],"ok":true}"#);
    let mut snake = Writer::snake_case();
    Reparsed(&camel).write(&mut snake);
    assert_eq!(snake.finish(), text);
    assert_eq!(snake_case("userIdX"), "user_id_x");
    assert_eq!(snake_case("Id"), "Id");
}

#[test]
fn path_at_names_the_value_an_error_points_at() {
    let text = r#"{"a":1,"timings":{"ackTimeoutMs":"x","b":[true,{"c":null}]},"d":[]}"#;
    let error = |text: &str| -> usize {
        #[derive(Debug)]
        struct Deep;
        impl FromJson<'_> for Deep {
            fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
                // Wants numbers wherever it finds a scalar.
                match r.peek()? {
                    Kind::Object => r.object(|r, _| r.read::<Deep>().map(drop))?,
                    Kind::Array => r.array(|r| r.read::<Deep>().map(drop))?,
                    _ => r.read::<f64>().map(drop)?,
                }
                Ok(Deep)
            }
        }
        match from_str::<Deep>(text).unwrap_err() {
            JsonError::Type { at, .. } | JsonError::Number { at } => at,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        path_at(text, error(text)),
        Some(vec!["timings".to_owned(), "ackTimeoutMs".to_owned()])
    );
    let second = r#"{"timings":{"ackTimeoutMs":1,"b":[2,{"c":true}]}}"#;
    let path = path_at(second, error(second)).unwrap();
    assert_eq!(path, ["timings", "b", "1", "c"]);
    assert_eq!(path_at(text, 0), Some(vec![]));
    assert_eq!(path_at(text, 3), None, "inside a key");
    assert_eq!(path_at(text, text.len()), None);
    assert_eq!(path_at("[1,", 3), None, "not JSON");
}

#[test]
fn numbers_read_as_serde_json_numbers() {
    for text in [
        "0",
        "-0",
        "1.5",
        "-3e2",
        "18446744073709551615",
        "-9223372036854775808",
        "1e308",
        "123456789012345678901234567890",
    ] {
        let expected: serde_json::Number = serde_json::from_str(text).unwrap();
        assert_eq!(from_str::<serde_json::Number>(text), Ok(expected), "{text}");
    }
    assert_eq!(
        from_str::<serde_json::Number>(" 1e400"),
        Err(JsonError::Number { at: 1 })
    );
    assert!(matches!(
        from_str::<serde_json::Number>(r#""1""#),
        Err(JsonError::Type { .. })
    ));
}

#[test]
fn reparsed_text_is_written_again_with_its_keys_renamed_by_a_camel_writer() {
    for text in DOCUMENTS {
        let value: Value = serde_json::from_str(text).unwrap();
        let plain: Value = serde_json::from_str(&to_string(&Reparsed(text))).unwrap();
        assert_eq!(plain, value, "{text}");
        let camel: Value = serde_json::from_str(&to_string_camel(&Reparsed(text))).unwrap();
        assert_eq!(camel, camel_keys(value));
    }
    let text = r#" {"user_id" : [ {"nick_name":"a_b"} , 1.50, -0, true, null ] , "x":{} } "#;
    assert_eq!(
        to_string_camel(&Reparsed(text)),
        r#"{"userId":[{"nickName":"a_b"},1.50,-0,true,null],"x":{}}"#
    );
    for not_json in ["", "[1,", r#"{"a":1} 2"#] {
        assert_eq!(to_string(&[Reparsed(not_json)][..]), "[null]", "{not_json}");
    }
}

#[test]
fn the_plain_run_stops_at_the_first_byte_a_string_must_escape() {
    let naive = |b: &[u8]| {
        b.iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .unwrap_or(b.len())
    };
    for len in 0..24 {
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..=len {
                let mut bytes: Vec<u8> = "aé🙂 ~\u{7f}".bytes().cycle().take(len).collect();
                if at < len {
                    bytes[at] = special;
                    // A byte just above 0x20 after the hit: no false hit below it.
                    if at + 1 < len {
                        bytes[at + 1] = 0x20;
                    }
                }
                assert_eq!(super::read::plain_run(&bytes), naive(&bytes), "{bytes:?}");
            }
        }
    }
    let mixed = "x\u{1}y\"z\\".as_bytes();
    assert_eq!(super::read::plain_run(mixed), 1);
}

#[test]
fn a_reader_clone_reads_the_same_value_again() {
    let mut reader = Reader::new(r#" {"a":[1,"b"]} 7"#);
    let mut probe = reader.clone();
    assert_eq!(probe.raw().unwrap(), r#"{"a":[1,"b"]}"#);
    assert_eq!(reader.raw().unwrap(), r#"{"a":[1,"b"]}"#);
    assert_eq!(probe.read::<u8>().unwrap(), 7);
}

#[test]
fn an_empty_array_reads_as_an_object_without_keys() {
    for text in ["[]", " [ ] "] {
        let mut reader = Reader::new(text);
        reader.object(|_, _| panic!("no keys")).unwrap();
        reader.finish().unwrap();
    }
    let mut reader = Reader::new("[1]");
    assert!(matches!(
        reader.object(|r, _| r.skip()),
        Err(JsonError::Type { .. })
    ));
}

/// `value` with every key in camelCase, as the old `Value` writer renamed them.
fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (camel_case(&key), camel_keys(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}
