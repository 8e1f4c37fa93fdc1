//! Nullable scalars, and the one place where `null` is handled ([`OrNull`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// What a visitor's error message says was expected (`null` included, where it is allowed).
pub(super) trait Expects {
    fn expected(&self) -> &'static str;
}

/// A value that may be `null`.
pub(super) trait Nullable<'de>: Expects + Sized {
    type Value;
    /// The value `null` reads as.
    fn null(self) -> Self::Value;
    /// Reads a value that is not `null`.
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error>;
}

/// Reads a [`Nullable`]: `null` → [`Nullable::null`], anything else → [`Nullable::present`].
pub(super) struct OrNull<T>(pub(super) T);

impl<'de, T: Nullable<'de>> DeserializeSeed<'de> for OrNull<T> {
    type Value = T::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: Nullable<'de>> Visitor<'de> for OrNull<T> {
    type Value = T::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expected())
    }
    fn visit_none<E: de::Error>(self) -> Result<T::Value, E> {
        Ok(self.0.null())
    }
    fn visit_unit<E: de::Error>(self) -> Result<T::Value, E> {
        Ok(self.0.null())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        self.0.present(deserializer)
    }
}

/// Which non-null forms a [`Text`] takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TextForms {
    String,
    /// A string, or a JSON integer kept as its decimal text (the daemon's Jackson coerces the same
    /// way); for sequence numbers.
    StringOrInteger,
}

/// A nullable string, borrowed from the line when it has no escapes.
#[derive(Clone, Copy)]
pub(super) struct Text {
    forms: TextForms,
}

impl Text {
    pub(super) const STRING: Text = Text {
        forms: TextForms::String,
    };
    pub(super) const STRING_OR_INTEGER: Text = Text {
        forms: TextForms::StringOrInteger,
    };
}

impl Expects for Text {
    fn expected(&self) -> &'static str {
        match self.forms {
            TextForms::String => "a string or null",
            TextForms::StringOrInteger => "a string, an integer or null",
        }
    }
}

impl<'de> Nullable<'de> for Text {
    type Value = Option<Cow<'de, str>>;
    fn null(self) -> Self::Value {
        None
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(text)))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(text.to_owned())))
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        match self.forms {
            TextForms::StringOrInteger => Ok(Some(Cow::Owned(number.to_string()))),
            TextForms::String => Err(E::invalid_type(de::Unexpected::Unsigned(number), &self)),
        }
    }
}

/// A nullable non-negative integer; also accepts a decimal string and truncates a fraction, as
/// the daemon's Jackson does.
#[derive(Clone, Copy)]
pub(super) struct LenientU64;

impl Expects for LenientU64 {
    fn expected(&self) -> &'static str {
        "a non-negative integer or null"
    }
}

impl<'de> Nullable<'de> for LenientU64 {
    type Value = Option<u64>;
    fn null(self) -> Self::Value {
        None
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for LenientU64 {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Some(number))
    }
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        u64::try_from(number)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(number), &self))
    }
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        if number.is_finite() && number >= 0.0 && number < u64::MAX as f64 {
            Ok(Some(number as u64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(number), &self))
        }
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

/// Epoch milliseconds: an integer (possibly negative), a float (truncated), a decimal string, or
/// null.
#[derive(Clone, Copy)]
pub(super) struct LenientMillis;

impl Expects for LenientMillis {
    fn expected(&self) -> &'static str {
        "epoch milliseconds or null"
    }
}

impl<'de> Nullable<'de> for LenientMillis {
    type Value = Option<i64>;
    fn null(self) -> Self::Value {
        None
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for LenientMillis {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Some(number))
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        i64::try_from(number)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(number), &self))
    }
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        if number.is_finite() && number.abs() < i64::MAX as f64 {
            Ok(Some(number as i64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(number), &self))
        }
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}
