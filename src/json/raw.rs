//! JSON kept as received: values the client passes on without interpreting them
//! (fragments of unknown kinds, mention entries, ping payloads).

use std::borrow::Cow;

use super::{FromJson, JsonError, Kind, Reader, Reparsed, ToJson, Writer};

/// One JSON value, kept as the text it was read from: checked to be JSON, nested at most
/// [`super::MAX_DEPTH`] deep, every number within f64's range (as serde_json reads
/// numbers). Written back value by value ([`Reparsed`]): compact, strings re-escaped,
/// numbers and key order as received, keys renamed by a camelCase or snake_case writer.
/// Equal when the texts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// `{}`.
    pub fn empty_object() -> Self {
        RawJson("{}".to_owned())
    }

    /// The text as received.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Whether `check` holds for the text of every number inside.
    pub fn all_numbers(&self, mut check: impl FnMut(&str) -> bool) -> bool {
        let mut number = |text: &str, at| match check(text) {
            true => Ok(()),
            false => Err(JsonError::Number { at }),
        };
        each_number(&mut Reader::new(&self.0), &mut number).is_ok()
    }

    /// The string this value is (unescaped); `None` when it is of another type.
    pub fn as_str(&self) -> Option<Cow<'_, str>> {
        let mut reader = Reader::new(&self.0);
        match reader.peek() {
            Ok(Kind::String) => reader.string().ok(),
            _ => None,
        }
    }

    /// The string at `name` of this object (the last one when the key repeats); `None`
    /// when there is none, it is of another type or this is not an object.
    pub fn str_field(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut found = None;
        Reader::new(&self.0)
            .object(|r, key| {
                if key != name {
                    return r.skip();
                }
                found = match r.peek()? {
                    Kind::String => Some(r.string()?),
                    _ => r.skip().map(|()| None)?,
                };
                Ok(())
            })
            .ok()?;
        found
    }
}

/// Consumes the next value, calling `number` with the text and offset of each number
/// inside, in order; stops at the first error.
fn each_number<'a>(
    r: &mut Reader<'a>,
    number: &mut dyn FnMut(&'a str, usize) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    match r.peek()? {
        Kind::Number => {
            let at = r.offset();
            number(r.number_text()?, at)
        }
        Kind::Array => r.array(|r| each_number(r, number)),
        Kind::Object => r.object(|r, _| each_number(r, number)),
        Kind::Null | Kind::Bool | Kind::String => r.skip(),
    }
}

/// Any JSON value. A number beyond f64's range is a [`JsonError::Number`] (serde_json
/// refused it as a `Value` too).
impl FromJson<'_> for RawJson {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut in_range = |text: &str, at| match text.parse::<serde_json::Number>() {
            Ok(_) => Ok(()),
            Err(_) => Err(JsonError::Number { at }),
        };
        each_number(&mut r.clone(), &mut in_range)?;
        Ok(RawJson(r.raw()?.to_owned()))
    }
}

impl ToJson for RawJson {
    fn write(&self, w: &mut Writer) {
        Reparsed(&self.0).write(w);
    }
}
