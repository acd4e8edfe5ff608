//! The writer: compact JSON text, byte for byte what `serde_json::to_string` writes for
//! the same shape (so rows stored by older builds and new ones look alike).

/// Writes `self` as one JSON value.
pub trait ToJson {
    /// Appends the value to `writer`.
    fn write(&self, writer: &mut Writer);
}

/// `value` as compact JSON text.
pub fn to_string<T: ToJson + ?Sized>(value: &T) -> String {
    let mut writer = Writer::default();
    value.write(&mut writer);
    writer.finish()
}

/// `value` as compact JSON text with every object key in camelCase (see
/// [`Writer::camel_case`]).
pub fn to_string_camel<T: ToJson + ?Sized>(value: &T) -> String {
    let mut writer = Writer::camel_case();
    value.write(&mut writer);
    writer.finish()
}

/// Appends JSON values to a string.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    keys: Keys,
}

/// How a [`Writer`] spells the object keys it writes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// As given.
    #[default]
    AsGiven,
    /// `snake_case` → `snakeCase`.
    Camel,
    /// `camelCase` → `camel_case`.
    Snake,
}

impl Writer {
    /// A writer that renames every key it writes from snake_case to camelCase
    /// (`user_id` → `userId`): the JS API's names for the wire's objects, from one
    /// [`ToJson`] per type. Text passed to [`Writer::raw`] is written as it is.
    pub fn camel_case() -> Self {
        Writer {
            out: String::new(),
            keys: Keys::Camel,
        }
    }

    /// A writer that renames every key it writes from camelCase to snake_case
    /// (`userId` → `user_id`): the wire's names for objects JS wrote.
    pub fn snake_case() -> Self {
        Writer {
            out: String::new(),
            keys: Keys::Snake,
        }
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }

    /// Writes `null`.
    pub fn null(&mut self) {
        self.out.push_str("null");
    }

    /// Writes `true` or `false`.
    pub fn bool(&mut self, value: bool) {
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start = start.saturating_sub(1);
            if let Some(slot) = digits.get_mut(start) {
                // The remainder is below 10: the cast keeps it, the `|` adds it to `0`.
                *slot = b'0' | (value % 10) as u8;
            }
            value /= 10;
            if value == 0 {
                break;
            }
        }
        for &digit in digits.get(start..).unwrap_or_default() {
            self.out.push(char::from(digit));
        }
    }

    /// Writes a signed integer.
    pub fn i64(&mut self, value: i64) {
        if value < 0 {
            self.out.push('-');
        }
        self.u64(value.unsigned_abs());
    }

    /// Writes a string, escaped as JSON requires (`"`, `\` and control characters).
    pub fn string(&mut self, value: &str) {
        self.out.push('"');
        let mut rest = value;
        loop {
            let plain = super::read::plain_run(rest.as_bytes());
            self.out.push_str(rest.get(..plain).unwrap_or_default());
            let Some(&byte) = rest.as_bytes().get(plain) else {
                break;
            };
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                _ => "",
            };
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.out.push_str("\\u00");
                for nibble in [byte >> 4, byte & 0xf] {
                    self.out
                        .push(char::from(*HEX.get(usize::from(nibble)).unwrap_or(&b'0')));
                }
            } else {
                self.out.push_str(escape);
            }
            rest = rest.get(plain.saturating_add(1)..).unwrap_or_default();
        }
        self.out.push('"');
    }

    /// Writes text that is already one JSON value.
    pub fn raw(&mut self, json: &str) {
        self.out.push_str(json);
    }

    /// Starts an object; write its fields, then [`ObjectWriter::end`] it.
    pub fn object(&mut self) -> ObjectWriter<'_> {
        self.out.push('{');
        ObjectWriter {
            writer: self,
            first: true,
        }
    }

    /// Writes an array of `items`.
    pub fn array<'i, T: ToJson + 'i>(&mut self, items: impl IntoIterator<Item = &'i T>) {
        self.out.push('[');
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            item.write(self);
        }
        self.out.push(']');
    }
}

/// An object being written: one call per field, then [`ObjectWriter::end`].
#[must_use = "an object is closed by `end()`"]
#[derive(Debug)]
pub struct ObjectWriter<'w> {
    writer: &'w mut Writer,
    first: bool,
}

impl ObjectWriter<'_> {
    /// Writes `"key":` and returns the writer for its value, which the caller writes next.
    pub fn key(&mut self, key: &str) -> &mut Writer {
        if !self.first {
            self.writer.out.push(',');
        }
        self.first = false;
        match self.writer.keys {
            Keys::Camel if key.contains('_') => self.writer.string(&camel_case(key)),
            Keys::Snake if key.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.writer.string(&snake_case(key));
            }
            _ => self.writer.string(key),
        }
        self.writer.out.push(':');
        self.writer
    }

    /// Writes `"key":value`.
    pub fn field<T: ToJson + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        value.write(self.key(key));
        self
    }

    /// Writes `"key":value` when `value` is `Some`; nothing when it is `None`.
    pub fn field_some<T: ToJson>(&mut self, key: &str, value: &Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.field(key, value);
        }
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.writer.out.push('}');
    }
}

impl ToJson for str {
    fn write(&self, writer: &mut Writer) {
        writer.string(self);
    }
}

impl ToJson for String {
    fn write(&self, writer: &mut Writer) {
        writer.string(self);
    }
}

impl ToJson for bool {
    fn write(&self, writer: &mut Writer) {
        writer.bool(*self);
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write(&self, writer: &mut Writer) {
                writer.u64(u64::from(*self));
            }
        }
    )*};
}
unsigned!(u64, u32, u16, u8);

impl ToJson for i64 {
    fn write(&self, writer: &mut Writer) {
        writer.i64(*self);
    }
}

/// `None` is `null`.
impl<T: ToJson> ToJson for Option<T> {
    fn write(&self, writer: &mut Writer) {
        match self {
            Some(value) => value.write(writer),
            None => writer.null(),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write(&self, writer: &mut Writer) {
        writer.array(self);
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write(&self, writer: &mut Writer) {
        writer.array(self);
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write(&self, writer: &mut Writer) {
        (**self).write(writer);
    }
}

/// `snake_case` → `snakeCase` (ASCII letters only change case); a leading underscore is
/// kept.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `camelCase` → `camel_case` (ASCII capitals after the first character).
pub fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len().saturating_add(4));
    for c in key.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text written again value by value, so that a camelCase writer renames its keys:
/// strings re-escaped, numbers as written, whitespace dropped. Text that is not one JSON
/// value is written as `null`.
#[derive(Debug, Clone, Copy)]
pub struct Reparsed<'a>(pub &'a str);

impl ToJson for Reparsed<'_> {
    fn write(&self, writer: &mut Writer) {
        let mut copy = Writer {
            out: String::new(),
            keys: writer.keys,
        };
        let mut reader = super::Reader::new(self.0);
        match copy_value(&mut reader, &mut copy).and_then(|()| reader.finish()) {
            Ok(()) => writer.out.push_str(&copy.out),
            Err(_) => writer.null(),
        }
    }
}

/// Reads one value and writes it.
fn copy_value(reader: &mut super::Reader<'_>, writer: &mut Writer) -> Result<(), super::JsonError> {
    use super::Kind;
    match reader.peek()? {
        Kind::Null => {
            reader.null()?;
            writer.null();
        }
        Kind::Bool => writer.bool(reader.bool()?),
        Kind::Number => writer.raw(reader.number_text()?),
        Kind::String => writer.string(&reader.string()?),
        Kind::Array => {
            writer.out.push('[');
            let mut first = true;
            reader.array(|reader| {
                if !first {
                    writer.out.push(',');
                }
                first = false;
                copy_value(reader, writer)
            })?;
            writer.out.push(']');
        }
        Kind::Object => {
            let mut object = writer.object();
            reader.object(|reader, key| copy_value(reader, object.key(key)))?;
            object.end();
        }
    }
    Ok(())
}
