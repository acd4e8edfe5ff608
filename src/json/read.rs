//! The pull reader: one value at a time, strings borrowed from the text unless they hold
//! escapes.

use std::borrow::Cow;

use super::{JsonError, MAX_DEPTH};

/// Reads a value of type `Self` at the reader's position, consuming exactly that value.
pub trait FromJson<'a>: Sized {
    /// Reads one value.
    fn read(reader: &mut Reader<'a>) -> Result<Self, JsonError>;
}

/// `text` read as one `T`, with nothing but whitespace after it.
pub fn from_str<'a, T: FromJson<'a>>(text: &'a str) -> Result<T, JsonError> {
    let mut reader = Reader::new(text);
    let value = T::read(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

/// The JSON type of the next value, as [`Reader::peek`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A cursor over JSON text. Each read consumes one value or fails with the offset where
/// the text stopped fitting; after a failure the reader is not used again.
#[derive(Debug)]
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// Checks that only whitespace is left.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        match self.next_byte() {
            None => Ok(()),
            Some(_) => Err(JsonError::Trailing { at: self.pos }),
        }
    }

    /// Reads one `T`.
    pub fn read<T: FromJson<'a>>(&mut self) -> Result<T, JsonError> {
        T::read(self)
    }

    /// The type of the next value, without consuming it.
    pub fn peek(&mut self) -> Result<Kind, JsonError> {
        match self.next_byte() {
            Some(b'n') => Ok(Kind::Null),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'"') => Ok(Kind::String),
            Some(b'[') => Ok(Kind::Array),
            Some(b'{') => Ok(Kind::Object),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            _ => Err(self.syntax()),
        }
    }

    /// Consumes a `null` if one is next; says whether it did.
    pub fn null(&mut self) -> Result<bool, JsonError> {
        if self.peek()? != Kind::Null {
            return Ok(false);
        }
        self.literal("null")?;
        Ok(true)
    }

    /// Reads an object, calling `field` with each key; `field` must consume the value
    /// (read it or [`Reader::skip`] it). A repeated key is passed again.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &str) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.object_with(&mut field)
    }

    /// [`Reader::object`]'s loop, compiled once: each caller's `field` is called through
    /// its vtable (a generic loop was 46 copies of ~1.1 KB of wasm).
    fn object_with(
        &mut self,
        field: &mut dyn FnMut(&mut Self, &str) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.empty_array() {
            return Ok(());
        }
        self.open(b'{', "an object")?;
        if self.next_byte() == Some(b'}') {
            self.advance();
            return self.close();
        }
        loop {
            if self.next_byte() != Some(b'"') {
                return Err(self.syntax());
            }
            let key = self.string()?;
            if self.next_byte() != Some(b':') {
                return Err(self.syntax());
            }
            self.advance();
            field(self, &key)?;
            match self.next_byte() {
                Some(b',') => self.advance(),
                Some(b'}') => {
                    self.advance();
                    return self.close();
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// Consumes `[]` if it is next: an object with no keys, as PHP's `json_encode` writes
    /// an empty map (and as serde's derive read it, a struct of defaults).
    fn empty_array(&mut self) -> bool {
        if self.next_byte() != Some(b'[') {
            return false;
        }
        let mut probe = self.clone();
        probe.advance();
        if probe.next_byte() != Some(b']') {
            return false;
        }
        probe.advance();
        *self = probe;
        true
    }

    /// Reads an array, calling `item` for each element; `item` must consume it.
    pub fn array(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.array_with(&mut item)
    }

    /// [`Reader::array`]'s loop, compiled once (as [`Reader::object_with`]).
    fn array_with(
        &mut self,
        item: &mut dyn FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.open(b'[', "an array")?;
        if self.next_byte() == Some(b']') {
            self.advance();
            return self.close();
        }
        loop {
            item(self)?;
            match self.next_byte() {
                Some(b',') => self.advance(),
                Some(b']') => {
                    self.advance();
                    return self.close();
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// Reads a string: borrowed from the text, or unescaped into a new one.
    pub fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        self.pos = start.saturating_add(plain_run(rest));
        match self.text.as_bytes().get(self.pos) {
            Some(b'"') => {
                let text = self.text.get(start..self.pos).ok_or(self.syntax())?;
                self.advance();
                Ok(Cow::Borrowed(text))
            }
            Some(b'\\') => self.escaped_string(start),
            _ => Err(self.syntax()),
        }
    }

    /// Reads a number's text (checked against JSON's grammar), for the number readers.
    pub fn number_text(&mut self) -> Result<&'a str, JsonError> {
        if self.peek()? != Kind::Number {
            return Err(self.type_error("a number"));
        }
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(self.syntax());
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.syntax());
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(self.syntax());
            }
        }
        self.text.get(start..self.pos).ok_or(self.syntax())
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, JsonError> {
        match self.next_byte() {
            Some(b't') => self.literal("true").map(|()| true),
            Some(b'f') => self.literal("false").map(|()| false),
            _ => Err(self.type_error("a boolean")),
        }
    }

    /// Consumes the next value whatever it is (checking it is JSON). Its containers are
    /// tracked on a stack of its own, not by recursion: a value skipped or passed on whole
    /// ([`Reader::raw`]) is not held to [`MAX_DEPTH`], only values read into types are.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        // Open containers, innermost last: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            match self.peek()? {
                Kind::Null => self.literal("null")?,
                Kind::Bool => drop(self.bool()?),
                Kind::Number => drop(self.number_text()?),
                Kind::String => drop(self.string()?),
                Kind::Array | Kind::Object => {
                    let object = self.peek()? == Kind::Object;
                    self.advance();
                    let close = if object { b'}' } else { b']' };
                    if self.next_byte() == Some(close) {
                        self.advance();
                    } else {
                        open.push(object);
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
            }
            // A value ended: close the containers it ends, or go on to the next member.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                match self.next_byte() {
                    Some(b',') => {
                        self.advance();
                        if object {
                            self.member_key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.advance();
                        open.pop();
                    }
                    Some(b']') if !object => {
                        self.advance();
                        open.pop();
                    }
                    _ => return Err(self.syntax()),
                }
            }
        }
    }

    /// Consumes an object member's `"key":` (for [`Reader::skip`]).
    fn member_key(&mut self) -> Result<(), JsonError> {
        if self.next_byte() != Some(b'"') {
            return Err(self.syntax());
        }
        self.string()?;
        if self.next_byte() != Some(b':') {
            return Err(self.syntax());
        }
        self.advance();
        Ok(())
    }

    /// Consumes the next value and returns its text as written (without the whitespace
    /// around it).
    pub fn raw(&mut self) -> Result<&'a str, JsonError> {
        self.next_byte();
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos).ok_or(self.syntax())
    }

    /// The byte offset of the next value (after whitespace), for errors.
    pub fn offset(&mut self) -> usize {
        self.next_byte();
        self.pos
    }

    /// A [`JsonError::Type`] at the next value.
    pub fn type_error(&mut self, expected: &'static str) -> JsonError {
        JsonError::Type {
            expected,
            at: self.offset(),
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn next_byte(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&byte) = bytes.get(self.pos) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.advance();
        }
        None
    }

    fn advance(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn syntax(&self) -> JsonError {
        JsonError::Syntax { at: self.pos }
    }

    /// Consumes `byte` if it is next (no whitespace skipped: inside numbers).
    fn eat(&mut self, byte: u8) -> bool {
        if self.text.as_bytes().get(self.pos) == Some(&byte) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// Consumes ASCII digits; returns how many.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.text.as_bytes().get(self.pos), Some(b'0'..=b'9')) {
            self.advance();
        }
        self.pos.saturating_sub(start)
    }

    /// Consumes the next value's first byte if it is `open`, else a type error.
    fn expect(&mut self, open: u8, expected: &'static str) -> Result<(), JsonError> {
        match self.next_byte() {
            Some(byte) if byte == open => {
                self.advance();
                Ok(())
            }
            Some(b'n' | b't' | b'f' | b'"' | b'[' | b'{' | b'-' | b'0'..=b'9') => {
                Err(self.type_error(expected))
            }
            _ => Err(self.syntax()),
        }
    }

    fn open(&mut self, open: u8, expected: &'static str) -> Result<(), JsonError> {
        self.expect(open, expected)?;
        if self.depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.depth = self.depth.saturating_add(1);
        Ok(())
    }

    fn close(&mut self) -> Result<(), JsonError> {
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        let end = self.pos.saturating_add(word.len());
        if self.text.get(self.pos..end) != Some(word) {
            return Err(self.syntax());
        }
        self.pos = end;
        Ok(())
    }

    /// The rest of a string from `start` (just after its opening quote) that holds at
    /// least one escape.
    fn escaped_string(&mut self, start: usize) -> Result<Cow<'a, str>, JsonError> {
        let mut out = String::from(self.text.get(start..self.pos).ok_or(self.syntax())?);
        loop {
            let rest = self.text.get(self.pos..).ok_or(self.syntax())?;
            let plain = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < 0x20)
                .ok_or(self.syntax())?;
            out.push_str(rest.get(..plain).ok_or(self.syntax())?);
            self.pos = self.pos.saturating_add(plain);
            match self.text.as_bytes().get(self.pos) {
                Some(b'"') => {
                    self.advance();
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.advance();
                    out.push(self.escape()?);
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// One escape after its backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let byte = *self.text.as_bytes().get(self.pos).ok_or(self.syntax())?;
        self.advance();
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => return Err(self.syntax()),
        })
    }

    /// `\uXXXX` (its `u` consumed), with a following low surrogate when it is a high one.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !(self.eat(b'\\') && self.eat(b'u')) {
                    return Err(self.syntax());
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.syntax());
                }
                // Twenty bits from the pair, above the basic plane: at most 0x10FFFF.
                0x10000_u32.wrapping_add(((first & 0x3FF) << 10) | (low & 0x3FF))
            }
            0xDC00..=0xDFFF => return Err(self.syntax()),
            other => other,
        };
        char::from_u32(code).ok_or(self.syntax())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let end = self.pos.saturating_add(4);
        let digits = self.text.get(self.pos..end).ok_or(self.syntax())?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.syntax());
        }
        let value = u32::from_str_radix(digits, 16).map_err(|_| self.syntax())?;
        self.pos = end;
        Ok(value)
    }
}

impl<'a> FromJson<'a> for Cow<'a, str> {
    fn read(reader: &mut Reader<'a>) -> Result<Self, JsonError> {
        reader.string()
    }
}

impl FromJson<'_> for String {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        reader.string().map(Cow::into_owned)
    }
}

impl FromJson<'_> for bool {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        reader.bool()
    }
}

/// An integer field: JSON integers only (`1.0` and `1e3` are refused, as serde_json does).
fn integer<T: std::str::FromStr>(reader: &mut Reader<'_>) -> Result<T, JsonError> {
    let at = reader.offset();
    let text = reader.number_text()?;
    text.parse().map_err(|_| JsonError::Number { at })
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl FromJson<'_> for $t {
            fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
                integer(reader)
            }
        }
    )*};
}
integers!(i64, u64, u32, u16, u8);

/// Through [`serde_json::Number`]: one float parser in the module (core's `str::parse`
/// would add a second, about 14 KB gzip).
impl FromJson<'_> for f64 {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        let at = reader.offset();
        let number: serde_json::Number = reader.read()?;
        number
            .as_f64()
            .filter(|number| number.is_finite())
            .ok_or(JsonError::Number { at })
    }
}

/// `null` is `None`.
impl<'a, T: FromJson<'a>> FromJson<'a> for Option<T> {
    fn read(reader: &mut Reader<'a>) -> Result<Self, JsonError> {
        if reader.null()? {
            Ok(None)
        } else {
            T::read(reader).map(Some)
        }
    }
}

impl<'a, T: FromJson<'a>> FromJson<'a> for Vec<T> {
    fn read(reader: &mut Reader<'a>) -> Result<Self, JsonError> {
        let mut items = Vec::new();
        reader.array(|reader| {
            items.push(T::read(reader)?);
            Ok(())
        })?;
        Ok(items)
    }
}

/// The keys (and array indexes, as decimal text) leading from the root of `text` to the
/// value that starts at byte `at` (where a [`JsonError::Type`] or [`JsonError::Number`]
/// points), outermost first: `["timings", "ackTimeoutMs"]`. `None` when no value starts
/// there. For saying which field was wrong without quoting the text.
pub fn path_at(text: &str, at: usize) -> Option<Vec<String>> {
    let mut path = Vec::new();
    let found = path_search(&mut Reader::new(text), at, &mut path).ok()?;
    found.then_some(path)
}

/// Consumes the next value; whether it is or holds the one at `at` (its path then left
/// on `path`).
fn path_search(
    reader: &mut Reader<'_>,
    at: usize,
    path: &mut Vec<String>,
) -> Result<bool, JsonError> {
    let here = reader.offset() == at;
    let mut found = false;
    let mut step = |reader: &mut Reader<'_>, name: String| {
        if here || found {
            return reader.skip();
        }
        path.push(name);
        found = path_search(reader, at, path)?;
        if !found {
            path.pop();
        }
        Ok(())
    };
    match reader.peek()? {
        Kind::Object => reader.object(|reader, key| step(reader, key.to_owned()))?,
        Kind::Array => {
            let mut index = 0_usize;
            reader.array(|reader| {
                index = index.saturating_add(1);
                step(reader, index.saturating_sub(1).to_string())
            })?;
        }
        _ => reader.skip()?,
    }
    Ok(here || found)
}

/// Any JSON number, as serde_json reads it (an integer as `i64`/`u64`, else `f64`;
/// beyond f64's range: an error): for fields that take any number, without a second float
/// parser in the module.
impl FromJson<'_> for serde_json::Number {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        let at = reader.offset();
        let text = reader.number_text()?;
        text.parse().map_err(|_| JsonError::Number { at })
    }
}

/// How many bytes of `bytes` come before the first one a JSON string cannot hold as it is
/// (`"`, `\\` or a control byte), eight at a time: the strings of message text are most
/// of what the inbound hot path reads and writes.
pub(crate) fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const BACKSLASHES: u64 = 0x5C5C_5C5C_5C5C_5C5C;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0usize;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // A byte's high bit is set where it is zero after the xor (a quote or a
        // backslash) or below 0x20; false hits only above a true one, so the lowest is
        // the first.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x;
        let hits =
            (zero(word ^ QUOTES) | zero(word ^ BACKSLASHES) | (word.wrapping_sub(SPACES) & !word))
                & HIGH;
        if hits != 0 {
            let within = usize::try_from(hits.trailing_zeros() / 8).unwrap_or(0);
            return at.saturating_add(within);
        }
        at = at.saturating_add(8);
    }
    let tail = chunks.remainder();
    at.saturating_add(
        tail.iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(tail.len()),
    )
}

/// A copy at the same position: to read a value one way and, when that does not fit, read
/// it again another way (a fragment of an unknown kind is kept as the value it is).
impl Clone for Reader<'_> {
    fn clone(&self) -> Self {
        Reader {
            text: self.text,
            pos: self.pos,
            depth: self.depth,
        }
    }
}
