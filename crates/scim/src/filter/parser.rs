//! Recursive-descent parser for the filter grammar of RFC 7644 §3.4.2.2, plus the canonical
//! printer (`Display`) whose output re-parses to the same AST.
//!
//! The grammar accepted is RFC 7644 §3.4.2.2's (figure 1) with the tolerances Entra ID needs
//! (see `entra-wire.md` §2.12 and quirk Q13):
//!
//! * operator and logical keywords and `true`/`false`/`null` are case-insensitive;
//! * values may be unquoted "bare words" (`externalId eq jyoung`, GUIDs, timestamps), read as
//!   strings unless they are exactly a literal or a plain JSON number;
//! * `emails[type eq "work"].value eq "x"` (value path followed by `.subAttr op value`) is read as
//!   `emails[type eq "work" and value eq "x"]`;
//! * extension URNs may be separated from the attribute by `.` instead of `:` (quirk Q8).
//!
//! Nothing here panics: all indexing goes through checked accessors, and nesting is bounded by
//! [`MAX_FILTER_DEPTH`] so hostile input cannot overflow the stack.

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use serde_json::Number;
use std::fmt;

/// Longest filter text accepted; longer ones are refused with `invalidFilter`.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses / `not` / value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Parses a filter expression (the `filter` query parameter, RFC 7644 §3.4.2.2).
///
/// The HTTP layer must already have form-decoded the text (`+` → space, `%22` → `"`).
/// Every syntax error is `400 invalidFilter` with a detail giving the byte position and the
/// offending token.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is {} bytes long, longer than the limit of {MAX_FILTER_LEN} bytes",
            input.len()
        )));
    }
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(ScimError::invalid_filter("empty filter"));
    }
    let f = p.parse_or(0)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.unexpected(p.pos, "'and', 'or' or the end of the filter"));
    }
    Ok(f)
}

/// Parses a bare attribute path (`name.givenName`, `urn:…:User:employeeNumber`), i.e.
/// `attrPath = [URI ":"] ATTRNAME *1subAttr` of RFC 7644 §3.4.2.2. Surrounding whitespace is
/// ignored. A bare schema URN (no attribute) is refused; see
/// [`crate::projection::parse_attribute_list`] for the context where that is meaningful.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ScimError::invalid_filter("empty attribute path"));
    }
    if text.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "attribute path longer than the limit of {MAX_FILTER_LEN} bytes"
        )));
    }
    if let Some(bad) = text.bytes().position(|b| !is_path_byte(b)) {
        return Err(ScimError::invalid_filter(format!(
            "invalid character {} at position {bad} in attribute path '{text}'",
            quote_token(text.get(bad..).unwrap_or(""))
        )));
    }
    let path = split_attr_token(text)
        .map_err(|e| ScimError::invalid_filter(format!("invalid attribute path '{text}': {e}")))?;
    if path.attr.is_empty() {
        return Err(ScimError::invalid_filter(format!("attribute path '{text}' names a schema but no attribute")));
    }
    Ok(path)
}

/// Parses the filter inside a value path's brackets, for [`crate::path::parse_path`].
/// `text` starts just after the `[`; returns the filter and the byte offset just past the
/// matching `]`.
pub(crate) fn parse_bracket_filter(text: &str) -> Result<(Filter, usize), ScimError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!("filter longer than the limit of {MAX_FILTER_LEN} bytes")));
    }
    let mut p = Parser::new(text);
    let f = p.parse_or(1)?;
    p.skip_ws();
    if p.peek() != Some(b']') {
        return Err(p.unexpected(p.pos, "']'"));
    }
    Ok((f, p.pos + 1))
}

/// True for bytes that may appear in an attribute path token: ATTRNAME characters
/// (RFC 7644 §3.4.2.2: ALPHA, DIGIT, `-`, `_`), `$` (for `$ref`, RFC 7643 §2.4), and the `:` / `.`
/// separators of URNs and sub-attributes.
pub(crate) fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b':' | b'.')
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA` (RFC 7643 §2.1),
/// also allowing a leading `$` for `$ref` (RFC 7643 §2.4).
pub(crate) fn is_attr_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'$' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A URN segment that is a schema version (`2.0`, `1.0`, `2`): in
/// `urn:ietf:params:scim:schemas:<…>:<version>:<ResourceName>` the segment after the version is
/// the resource name, part of the URN, not an attribute.
fn is_version(seg: &str) -> bool {
    seg.bytes().next().is_some_and(|b| b.is_ascii_digit()) && seg.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Splits `attr[.sub]`, validating both names.
fn split_name(s: &str) -> Result<(String, Option<String>), String> {
    let mut parts = s.split('.');
    let attr = parts.next().unwrap_or("");
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(format!("'{s}' has more than one sub-attribute level"));
    }
    if !is_attr_name(attr) {
        return Err(format!("'{attr}' is not a valid attribute name"));
    }
    if let Some(sub) = sub
        && !is_attr_name(sub)
    {
        return Err(format!("'{sub}' is not a valid sub-attribute name"));
    }
    Ok((attr.to_owned(), sub.map(str::to_owned)))
}

/// Splits an attribute path token into URI, attribute and sub-attribute.
///
/// Rule for `urn:` tokens (RFC 7644 §3.10: the attribute follows the schema URN after a `:`):
/// take the segment `X` after the last `:`. If the segment before it is a version (`2.0`), `X` is
/// the resource name closing the URN, optionally followed by `.attr[.sub]` (Entra's pre-2018 dot
/// form, quirk Q8); with nothing after it the token is a bare schema URN (`attr` is empty).
/// Otherwise the URN is everything before the last `:` and `X` is `attr[.sub]`.
pub(crate) fn split_attr_token(tok: &str) -> Result<AttrPath, String> {
    let is_urn = tok.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        if tok.contains(':') {
            return Err("':' is only allowed after a schema URN starting with 'urn:'".to_owned());
        }
        let (attr, sub) = split_name(tok)?;
        return Ok(AttrPath { uri: None, attr, sub_attr: sub });
    }
    let Some(last) = tok.rfind(':') else {
        return Err("malformed schema URN".to_owned());
    };
    let prefix = tok.get(..last).unwrap_or("");
    let x = tok.get(last + 1..).unwrap_or("");
    if x.is_empty() {
        return Err("schema URN ends with ':' and names no attribute".to_owned());
    }
    if prefix.eq_ignore_ascii_case("urn") {
        return Err("schema URN has no namespace".to_owned());
    }
    let prev_seg = prefix.rsplit(':').next().unwrap_or("");
    if is_version(prev_seg) {
        return match x.split_once('.') {
            None => Ok(AttrPath { uri: Some(tok.to_owned()), attr: String::new(), sub_attr: None }),
            Some((resource, rest)) => {
                if !is_attr_name(resource) {
                    return Err(format!("'{resource}' is not a valid resource type name"));
                }
                let (attr, sub) = split_name(rest)?;
                Ok(AttrPath { uri: Some(format!("{prefix}:{resource}")), attr, sub_attr: sub })
            }
        };
    }
    let (attr, sub) = split_name(x)?;
    Ok(AttrPath { uri: Some(prefix.to_owned()), attr, sub_attr: sub })
}

/// Quotes (at most 40 characters of) the token starting at the beginning of `rest`, for error
/// details.
fn quote_token(rest: &str) -> String {
    let mut chars = rest.chars();
    let tok: String = match chars.next() {
        None => return "end of filter".to_owned(),
        Some(c) if matches!(c, '(' | ')' | '[' | ']' | '"') => c.to_string(),
        Some(c) if c.is_whitespace() => c.to_string(),
        Some(_) => rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | '"'))
            .take(40)
            .collect(),
    };
    format!("'{tok}'")
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A plain JSON number token (RFC 8259 §6): `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
/// Only such bare words become numbers; GUIDs and dates that begin with digits stay strings.
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Parses a plain JSON number token (see [`is_plain_number`]) into a [`Number`]: integers that
/// fit stay integers; everything else goes through Rust's correctly rounded `f64` parser (so the
/// shortest-representation output of `Number`'s `Display` reads back to the same value).
/// Infinite results (`1e999`) are `None`.
pub(crate) fn parse_number(word: &str) -> Option<Number> {
    if !is_plain_number(word) {
        return None;
    }
    if !word.contains(['.', 'e', 'E']) {
        if let Ok(i) = word.parse::<i64>() {
            return Some(Number::from(i));
        }
        if let Ok(u) = word.parse::<u64>() {
            return Some(Number::from(u));
        }
    }
    word.parse::<f64>().ok().and_then(Number::from_f64)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self { src, bytes: src.as_bytes(), pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn rest_at(&self, pos: usize) -> &'a str {
        self.src.get(pos..).unwrap_or("")
    }

    /// `unexpected token 'x' at position N in filter, expected …`.
    fn unexpected(&self, pos: usize, expected: &str) -> ScimError {
        let rest = self.rest_at(pos);
        if rest.is_empty() {
            ScimError::invalid_filter(format!("unexpected end of filter at position {pos}, expected {expected}"))
        } else {
            ScimError::invalid_filter(format!(
                "unexpected token {} at position {pos} in filter, expected {expected}",
                quote_token(rest)
            ))
        }
    }

    fn too_deep(&self) -> ScimError {
        ScimError::invalid_filter(format!(
            "filter nesting at position {} is deeper than the limit of {MAX_FILTER_DEPTH}",
            self.pos
        ))
    }

    /// Consumes the case-insensitive keyword `kw` if it is at the current position and is
    /// followed by whitespace, `(` or the end (so `andy` is not `and`).
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        let matches_kw = self.bytes.get(self.pos..end).is_some_and(|w| w.eq_ignore_ascii_case(kw.as_bytes()));
        let delimited = match self.bytes.get(end) {
            None => true,
            Some(&b) => is_ws(b) || b == b'(',
        };
        if matches_kw && delimited {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// `filter = or-expression`; `or` binds loosest and associates to the left.
    fn parse_or(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.parse_and(depth)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.eat_keyword("or") {
                let right = self.parse_and(depth)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    /// `and` binds tighter than `or` (RFC 7644 §3.4.2.2, table 5 precedence).
    fn parse_and(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.parse_unary(depth)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.eat_keyword("and") {
                let right = self.parse_unary(depth)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    /// `"(" filter ")"`, `"not" "(" filter ")"` or an attribute expression / value path.
    fn parse_unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        self.skip_ws();
        match self.peek() {
            None => return Err(self.unexpected(self.pos, "an attribute name, 'not' or '('")),
            Some(b'(') => {
                if depth >= MAX_FILTER_DEPTH {
                    return Err(self.too_deep());
                }
                self.pos += 1;
                let inner = self.parse_or(depth + 1)?;
                self.expect_close(b')')?;
                return Ok(inner);
            }
            Some(_) => {}
        }
        // `not` is a keyword only when a `(` follows; otherwise it is an attribute named "not".
        let save = self.pos;
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() == Some(b'(') {
                if depth >= MAX_FILTER_DEPTH {
                    return Err(self.too_deep());
                }
                self.pos += 1;
                let inner = self.parse_or(depth + 1)?;
                self.expect_close(b')')?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            self.pos = save;
        }
        self.parse_attr_expr(depth)
    }

    fn expect_close(&mut self, close: u8) -> Result<(), ScimError> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            Ok(())
        } else {
            let what = if close == b')' { "')'" } else { "']'" };
            Err(self.unexpected(self.pos, &format!("'and', 'or' or {what}")))
        }
    }

    /// Reads a run of attribute-path bytes.
    fn read_path_token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_path_byte) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn parse_path_at(&mut self) -> Result<AttrPath, ScimError> {
        let start = self.pos;
        let tok = self.read_path_token();
        if tok.is_empty() {
            return Err(self.unexpected(start, "an attribute name"));
        }
        let path = split_attr_token(tok).map_err(|e| {
            ScimError::invalid_filter(format!("invalid attribute path '{tok}' at position {start} in filter: {e}"))
        })?;
        if path.attr.is_empty() {
            return Err(ScimError::invalid_filter(format!(
                "attribute path '{tok}' at position {start} in filter names a schema but no attribute"
            )));
        }
        Ok(path)
    }

    /// `attrExp = attrPath SP "pr" / attrPath SP compareOp SP compValue`, or
    /// `valuePath = attrPath "[" valFilter "]"` optionally followed by Entra's `.subAttr` test.
    fn parse_attr_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let path = self.parse_path_at()?;
        if self.peek() == Some(b'[') {
            if depth >= MAX_FILTER_DEPTH {
                return Err(self.too_deep());
            }
            self.pos += 1;
            let mut inner = self.parse_or(depth + 1)?;
            self.expect_close(b']')?;
            // Entra: `emails[type eq "work"].value eq "x"` ≡ `emails[type eq "work" and value eq "x"]`.
            if self.peek() == Some(b'.') {
                self.pos += 1;
                let start = self.pos;
                let tok = self.read_path_token();
                if !is_attr_name(tok) {
                    return Err(self.unexpected(start, "a sub-attribute name after ']."));
                }
                let extra = self.parse_op_value(AttrPath::new(tok))?;
                inner = Filter::And(Box::new(inner), Box::new(extra));
            }
            return Ok(Filter::ValuePath { path, filter: Box::new(inner) });
        }
        self.parse_op_value(path)
    }

    /// `SP compareOp SP compValue` or `SP "pr"` after an attribute path.
    fn parse_op_value(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        if !self.peek().is_some_and(is_ws) {
            return Err(self.unexpected(self.pos, "whitespace and an operator"));
        }
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_ws(b) && !matches!(b, b'(' | b')' | b'[' | b']' | b'"')) {
            self.pos += 1;
        }
        let word = self.src.get(start..self.pos).unwrap_or("");
        if word.is_empty() {
            return Err(self.unexpected(start, "an operator"));
        }
        let op = match word.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "unknown operator {} at position {start} in filter",
                    quote_token(word)
                )));
            }
        };
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `compValue = false / null / true / number / string`, plus Entra's unquoted bare words.
    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, ScimError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "missing value after '{}' at position {start} in filter",
                    op.as_str()
                )));
            }
            Some(b'"') => return self.parse_string().map(CompValue::Str),
            Some(b'(' | b')' | b'[' | b']') => {
                return Err(self.unexpected(start, &format!("a value after '{}'", op.as_str())));
            }
            Some(_) => {}
        }
        while self.peek().is_some_and(|b| !is_ws(b) && b != b')' && b != b']') {
            self.pos += 1;
        }
        let word = self.src.get(start..self.pos).unwrap_or("");
        if word.eq_ignore_ascii_case("true") {
            return Ok(CompValue::Bool(true));
        }
        if word.eq_ignore_ascii_case("false") {
            return Ok(CompValue::Bool(false));
        }
        if word.eq_ignore_ascii_case("null") {
            return Ok(CompValue::Null);
        }
        if let Some(n) = parse_number(word) {
            return Ok(CompValue::Num(n));
        }
        Ok(CompValue::Str(word.to_owned()))
    }

    /// A JSON string (RFC 8259 §7) starting at the current `"`. Raw control characters are
    /// tolerated (they can only come from a client that forgot to escape them).
    fn parse_string(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let body = self.rest_at(start + 1);
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let esc_pos = start + 1 + i;
                    let bad_escape = || {
                        ScimError::invalid_filter(format!("invalid escape sequence at position {esc_pos} in filter"))
                    };
                    match chars.next().map(|(_, e)| e) {
                        Some('"') => out.push('"'),
                        Some('\\') => out.push('\\'),
                        Some('/') => out.push('/'),
                        Some('b') => out.push('\u{8}'),
                        Some('f') => out.push('\u{c}'),
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some('u') => {
                            let hi = read_hex4(&mut chars).ok_or_else(bad_escape)?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                // High surrogate: a `\uDC00`–`\uDFFF` low surrogate must follow.
                                if chars.next().map(|(_, c)| c) != Some('\\')
                                    || chars.next().map(|(_, c)| c) != Some('u')
                                {
                                    return Err(bad_escape());
                                }
                                let lo = read_hex4(&mut chars).ok_or_else(bad_escape)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(bad_escape());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).ok_or_else(bad_escape)?);
                        }
                        _ => return Err(bad_escape()),
                    }
                }
                c => out.push(c),
            }
        }
        Err(ScimError::invalid_filter(format!("unterminated string starting at position {start} in filter")))
    }
}

fn read_hex4(chars: &mut std::str::CharIndices<'_>) -> Option<u32> {
    let mut v = 0u32;
    for _ in 0..4 {
        let d = chars.next()?.1.to_digit(16)?;
        v = v * 16 + d;
    }
    Some(v)
}

/// Writes `s` as a JSON string literal (RFC 8259 §7).
pub(crate) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Canonical form: `[uri ":"] attr ["." sub]`; a bare URN (empty `attr`) prints as the URN.
impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            f.write_str(uri)?;
            if !self.attr.is_empty() {
                f.write_str(":")?;
            }
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Strings are always quoted (so a string `"true"` or `"42"` stays a string when re-parsed).
impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => write_json_string(f, s),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Canonical filter text that [`parse_filter`] turns back into an equal AST. `and`/`or` are
/// left-associative with `and` binding tighter, so only operands that would otherwise regroup are
/// parenthesised. Value paths print in the RFC bracket form, never Entra's `.sub` form.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn paren(f: &mut fmt::Formatter<'_>, x: &Filter, wrap: bool) -> fmt::Result {
            if wrap { write!(f, "({x})") } else { write!(f, "{x}") }
        }
        match self {
            Filter::And(l, r) => {
                paren(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                paren(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                paren(f, l, false)?;
                f.write_str(" or ")?;
                paren(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}
