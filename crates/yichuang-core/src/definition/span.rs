//! A span-preserving reading of RON text (定义文件的位置): where every value starts, by its path
//! (`items[3].promised_days`), so that each diagnostic points at the field it names.
//!
//! The `ron` crate deserializes the definition but keeps no positions, and a search of the text
//! for the offending id finds its *first* occurrence, which is often another item, another
//! bundle or another section. This reader keeps, for each value, the byte offset where it
//! starts; a path of [`Seg`]s then walks the tree exactly as the validator walked the
//! deserialized structs. It only reads the syntax (structs, tuples, lists, maps, enum
//! variants, strings, numbers and comments) and checks no types, which `ron` already did.
//!
//! It runs only when something is wrong (a valid definition never builds the tree), so it costs
//! a valid load nothing. It also finds two syntax errors better than `ron` reports them: a string
//! that is not closed is reported where it opens, not where the text runs out.

use std::fmt;

/// How deeply values may nest; definitions nest about six levels. Deeper text is refused rather
/// than read by unbounded recursion.
const DEPTH_MAX: usize = 128;

/// One step of a path into a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A struct field by name: `.promised_days`.
    Field(&'static str),
    /// A list or tuple element by position: `[2]`.
    Index(usize),
    /// A list element found by position and shown by its id or year: `[food-licence]`.
    Keyed(usize, String),
    /// The data of an enum variant, e.g. the string of `Department("a")`: found by position,
    /// not shown.
    Inner(usize),
}

/// A path into a definition: both the text of [`super::Diagnostic::path`] and the way to the
/// value's position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spot(Vec<Seg>);

impl Spot {
    /// A top-level field, e.g. `Spot::at("items")`.
    pub(crate) fn at(field: &'static str) -> Spot {
        Spot(vec![Seg::Field(field)])
    }
    /// This path followed by a field.
    pub(crate) fn f(&self, field: &'static str) -> Spot {
        self.with(Seg::Field(field))
    }
    /// This path followed by an element by position.
    pub(crate) fn i(&self, index: usize) -> Spot {
        self.with(Seg::Index(index))
    }
    /// This path followed by an element shown by its id.
    pub(crate) fn key(&self, index: usize, id: impl fmt::Display) -> Spot {
        self.with(Seg::Keyed(index, id.to_string()))
    }
    /// This path followed by the data of an enum variant.
    pub(crate) fn inner(&self, index: usize) -> Spot {
        self.with(Seg::Inner(index))
    }
    fn with(&self, seg: Seg) -> Spot {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(seg);
        Spot(segs)
    }
}

impl fmt::Display for Spot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Field(name) if n == 0 => f.write_str(name)?,
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Keyed(_, id) => write!(f, "[{id}]")?,
                Seg::Inner(_) => {}
            }
        }
        Ok(())
    }
}

/// A value of the text and where it starts.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    /// Byte offset of the value's first character (the variant name of `Name(…)`).
    start: usize,
    /// Byte offset just after the value's last character.
    end: usize,
    /// The variant or struct name before `(`, if any.
    name: Option<&'a str>,
    body: Body<'a>,
}

#[derive(Debug)]
enum Body<'a> {
    /// A string, number, identifier or unit variant.
    Atom,
    /// `( key: value, … )`, with or without a name.
    Fields(Vec<(&'a str, Node<'a>)>),
    /// `[ … ]`, `( a, b )`, `Name(a, b)` or the values of `{ … }`.
    Items(Vec<Node<'a>>),
}

impl Node<'_> {
    /// Where the value at `path` starts; where the deepest value on the way to it starts when
    /// the text does not have it (a field left out for its default).
    pub(crate) fn offset_of(&self, path: &Spot) -> usize {
        let mut node = self;
        for seg in &path.0 {
            match node.step(seg) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.start
    }

    fn step(&self, seg: &Seg) -> Option<&Node<'_>> {
        let node = self.unwrap_some();
        match (seg, &node.body) {
            (Seg::Field(name), Body::Fields(fields)) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            (Seg::Index(i) | Seg::Keyed(i, _) | Seg::Inner(i), Body::Items(items)) => items.get(*i),
            _ => None,
        }
    }

    /// The innermost value around `offset` (its end included: `ron` reports some errors just
    /// after a value, e.g. at the `.` of `1.5` read as an integer) and its path as text, each
    /// list element shown by its `id` (or `year`) when it has one.
    pub(crate) fn innermost<'n>(&'n self, text: &str, offset: usize) -> (&'n Node<'n>, String) {
        let mut path = String::new();
        let mut node = self;
        let around = |v: &Node<'_>| v.start <= offset && offset <= v.end;
        loop {
            let next = match &node.body {
                Body::Atom => None,
                Body::Fields(fields) => fields.iter().find(|(_, v)| around(v)).map(|(key, v)| {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    v
                }),
                Body::Items(items) => items.iter().enumerate().find(|(_, v)| around(v)).map(|(i, v)| {
                    // The data of a variant (`Some(…)`, `Department(…)`) is not shown.
                    if node.name.is_none() {
                        match v.label(text) {
                            Some(label) => path.push_str(&format!("[{label}]")),
                            None => path.push_str(&format!("[{i}]")),
                        }
                    }
                    v
                }),
            };
            match next {
                Some(next) => node = next,
                None => return (node, path),
            }
        }
    }

    /// Byte offset of the value's first character.
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// The text of an atom (a number, string or identifier); `None` for other values.
    pub(crate) fn atom<'t>(&self, text: &'t str) -> Option<&'t str> {
        matches!(self.body, Body::Atom).then(|| &text[self.start..self.end])
    }

    /// A struct's `id` (without quotes) or `year`, by which paths show list elements.
    fn label<'t>(&self, text: &'t str) -> Option<&'t str> {
        let Body::Fields(fields) = &self.unwrap_some().body else { return None };
        let (_, value) = fields.iter().find(|(k, _)| *k == "id" || *k == "year")?;
        let atom = value.atom(text)?;
        Some(atom.strip_prefix('"').and_then(|a| a.strip_suffix('"')).unwrap_or(atom))
    }

    /// The value inside `Some(…)` (optional values may be written either way).
    fn unwrap_some(&self) -> &Self {
        match (&self.name, &self.body) {
            (Some("Some"), Body::Items(items)) if items.len() == 1 => &items[0],
            _ => self,
        }
    }
}

/// Why the text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// A string opened at this offset is not closed (before the end of the text, or it runs past
    /// the end of its line into text that cannot follow a string).
    UnclosedString(usize),
    /// A block comment opened at this offset is not closed.
    UnclosedComment(usize),
    /// Something else at this offset: the `ron` crate's message says more.
    Other(usize),
}

/// Reads `source` (without a byte-order mark) into its tree of values.
pub(crate) fn read(source: &str) -> Result<Node<'_>, ReadError> {
    let mut reader = Reader { text: source, bytes: source.as_bytes(), at: 0 };
    reader.skip_attributes()?;
    let root = reader.value(0)?;
    reader.skip_blank()?;
    match reader.peek() {
        None => Ok(root),
        Some(_) => Err(ReadError::Other(reader.at)),
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    /// Skips whitespace, `// …` and nested `/* … */` comments.
    fn skip_blank(&mut self) -> Result<(), ReadError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(b), _) if b.is_ascii_whitespace() => self.at += 1,
                (Some(b'/'), Some(b'/')) => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.at += 1;
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let open = self.at;
                    let mut depth = 0usize;
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (None, _) => return Err(ReadError::UnclosedComment(open)),
                            (Some(b'/'), Some(b'*')) => {
                                depth += 1;
                                self.at += 2;
                            }
                            (Some(b'*'), Some(b'/')) => {
                                depth -= 1;
                                self.at += 2;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => self.at += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Skips `#![enable(…)]` lines before the value.
    fn skip_attributes(&mut self) -> Result<(), ReadError> {
        loop {
            self.skip_blank()?;
            if !(self.peek() == Some(b'#') && self.peek_at(1) == Some(b'!')) {
                return Ok(());
            }
            self.at += 2;
            self.skip_blank()?;
            if self.peek() != Some(b'[') {
                return Err(ReadError::Other(self.at));
            }
            self.value(0)?;
        }
    }

    fn expect_token(&mut self, byte: u8) -> Result<(), ReadError> {
        self.skip_blank()?;
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(ReadError::Other(self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, ReadError> {
        let mut node = self.value_body(depth)?;
        node.end = self.at;
        Ok(node)
    }

    /// A value whose `end` [`Reader::value`] sets.
    fn value_body(&mut self, depth: usize) -> Result<Node<'a>, ReadError> {
        if depth > DEPTH_MAX {
            return Err(ReadError::Other(self.at));
        }
        self.skip_blank()?;
        let start = self.at;
        let atom = Node { start, end: start, name: None, body: Body::Atom };
        match self.peek() {
            None => Err(ReadError::Other(start)),
            Some(b'"') => self.string(start, false, 0).map(|()| atom),
            Some(b'\'') => self.char_literal().map(|()| atom),
            Some(b'b' | b'r') if self.raw_or_byte_string(start)? => Ok(atom),
            Some(b'(') => self.group(start, None, depth),
            Some(b'[') => self.list(start, b']', depth),
            Some(b'{') => self.list(start, b'}', depth),
            Some(b) if is_ident_start(b) => {
                let name = self.ident();
                let after = self.at;
                self.skip_blank()?;
                if self.peek() == Some(b'(') {
                    self.group(start, Some(name), depth)
                } else {
                    self.at = after;
                    Ok(atom)
                }
            }
            Some(b) if b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.' => {
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-')) {
                    self.at += 1;
                }
                Ok(atom)
            }
            Some(_) => Err(ReadError::Other(start)),
        }
    }

    fn ident(&mut self) -> &'a str {
        let start = self.at;
        if self.peek() == Some(b'r') && self.peek_at(1) == Some(b'#') {
            self.at += 2;
        }
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// A `"…"` string with escapes, or a raw string `r#"…"#` closed by a quote and `hashes` `#`.
    /// A string that runs past the end of its line and is then followed by text that cannot
    /// follow a value was most likely left open on that line: it is reported where it opens.
    fn string(&mut self, open: usize, raw: bool, hashes: usize) -> Result<(), ReadError> {
        self.at += 1;
        let mut multiline = false;
        loop {
            match self.peek() {
                None => return Err(ReadError::UnclosedString(open)),
                Some(b'\\') if !raw => self.at += 2,
                Some(b'"')
                    if self.bytes[self.at + 1..].iter().take(hashes).filter(|&&b| b == b'#').count() == hashes =>
                {
                    self.at += 1 + hashes;
                    break;
                }
                Some(b'\n') => {
                    multiline = true;
                    self.at += 1;
                }
                Some(_) => self.at += 1,
            }
        }
        if multiline {
            let after = self.at;
            self.skip_blank()?;
            let follows = self.peek().is_none_or(|b| matches!(b, b',' | b')' | b']' | b'}' | b':'));
            self.at = after;
            if !follows {
                return Err(ReadError::UnclosedString(open));
            }
        }
        Ok(())
    }

    fn char_literal(&mut self) -> Result<(), ReadError> {
        let open = self.at;
        self.at += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(ReadError::Other(open)),
                Some(b'\\') => self.at += 2,
                Some(b'\'') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// `b"…"`, `br"…"`, `r"…"`, `r#"…"#`: true if one was read (false for an identifier).
    fn raw_or_byte_string(&mut self, start: usize) -> Result<bool, ReadError> {
        let mut at = start;
        if self.bytes[at] == b'b' {
            at += 1;
        }
        let raw = self.bytes.get(at) == Some(&b'r');
        if raw {
            at += 1;
        }
        let hashes = if raw { self.bytes[at..].iter().take_while(|&&b| b == b'#').count() } else { 0 };
        if self.bytes.get(at + hashes) != Some(&b'"') {
            return Ok(false);
        }
        self.at = at + hashes;
        self.string(start, raw, hashes)?;
        Ok(true)
    }

    /// `( … )` after an optional name: named fields or a tuple.
    fn group(&mut self, start: usize, name: Option<&'a str>, depth: usize) -> Result<Node<'a>, ReadError> {
        self.expect_token(b'(')?;
        self.skip_blank()?;
        let mark = self.at;
        let fields = if self.peek().is_some_and(is_ident_start) {
            self.ident();
            self.skip_blank()?;
            let colon = self.peek() == Some(b':') && self.peek_at(1) != Some(b':');
            self.at = mark;
            colon
        } else {
            false
        };
        if !fields {
            let Body::Items(items) = self.list(start, b')', depth)?.body else { unreachable!("a list") };
            return Ok(Node { start, end: start, name, body: Body::Items(items) });
        }
        let mut out = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b')') {
                self.at += 1;
                return Ok(Node { start, end: start, name, body: Body::Fields(out) });
            }
            if !self.peek().is_some_and(is_ident_start) {
                return Err(ReadError::Other(self.at));
            }
            let key = self.ident();
            self.expect_token(b':')?;
            let value = self.value(depth + 1)?;
            out.push((key, value));
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b')') => {}
                _ => return Err(ReadError::Other(self.at)),
            }
        }
    }

    /// Values separated by commas up to `close`: a list, a tuple's body or a map (whose keys are
    /// read and dropped: definitions have no maps).
    fn list(&mut self, start: usize, close: u8, depth: usize) -> Result<Node<'a>, ReadError> {
        if close != b')' {
            self.at += 1;
        }
        let mut out = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(Node { start, end: start, name: None, body: Body::Items(out) });
            }
            let mut value = self.value(depth + 1)?;
            if close == b'}' {
                self.expect_token(b':')?;
                value = self.value(depth + 1)?;
            }
            out.push(value);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b) if b == close => {}
                _ => return Err(ReadError::Other(self.at)),
            }
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Bytes per checkpoint of [`Lines::chars_before`]: a column is counted over at most this many
/// bytes, however long the line (a 5.6 MB file on one line once made locating quadratic).
const CHAR_CHECKPOINT: usize = 4096;

/// Byte offsets → 1-based line and column (in characters).
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
    /// `chars_before[k]`: characters in `text[..k * CHAR_CHECKPOINT]` (counted as UTF-8 lead bytes).
    chars_before: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Lines<'a> {
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n').map(|(i, _)| i + 1))
            .collect();
        let mut chars_before = Vec::with_capacity(bytes.len() / CHAR_CHECKPOINT + 1);
        let mut count = 0;
        for chunk in bytes.chunks(CHAR_CHECKPOINT) {
            chars_before.push(count);
            count += chunk.iter().filter(|&&b| !is_continuation(b)).count();
        }
        chars_before.push(count);
        Lines { bytes, line_starts, chars_before }
    }

    /// The byte offset of a 1-based line and column (in characters, as `ron` reports them);
    /// the end of the line or of the text when the column or line lies beyond it.
    pub(crate) fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.max(1) - 1) else { return self.bytes.len() };
        let text = std::str::from_utf8(&self.bytes[start..]).unwrap_or("");
        let within = text.char_indices().take_while(|&(_, c)| c != '\n').map(|(i, _)| i).nth(col.max(1) - 1);
        start + within.unwrap_or_else(|| text.find('\n').unwrap_or(text.len()))
    }

    /// 1-based line and column (in characters) of a byte offset (at most the text's length).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        assert!(offset <= self.bytes.len(), "offset {offset} is inside the text");
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        let chars_to = |at: usize| {
            let k = at / CHAR_CHECKPOINT;
            self.chars_before[k] + self.bytes[k * CHAR_CHECKPOINT..at].iter().filter(|&&b| !is_continuation(b)).count()
        };
        (line, chars_to(offset) - chars_to(line_start) + 1)
    }
}

/// A UTF-8 continuation byte (`10xxxxxx`): not the start of a character.
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(text: &str, path: &Spot) -> (usize, usize) {
        let tree = read(text).unwrap_or_else(|e| panic!("{e:?}"));
        Lines::new(text).line_col(tree.offset_of(path))
    }

    /// Line and column of the `n`th (0-based) occurrence of `needle`, found by a search.
    fn find(text: &str, needle: &str, n: usize) -> (usize, usize) {
        let offset = text.match_indices(needle).nth(n).unwrap_or_else(|| panic!("{needle} #{n}")).0;
        Lines::new(text).line_col(offset)
    }

    #[test]
    fn every_value_is_found_by_its_path() {
        let text = "#![enable(implicit_some)]\n(\n  id: \"t\", // \"items\": [\n  items: [\n    (id: \"a\", decided_by: Department(\"乙\"), n: 1.5),\n    /* (id: \"b\" /* nested */ ) */ (id: \"b\", decided_by: Countersign([\"x\", \"y\"]), s: Some((p: r#\"a\"b\"#))),\n  ],\n  hours: [(\"09:00\", \"12:00\")],\n  m: {\"k\": 1},\n)";
        let items = Spot::at("items");
        assert_eq!(position(text, &Spot::at("id")), find(text, "\"t\"", 0));
        assert_eq!(position(text, &items.key(0, "a").f("decided_by").inner(0)), find(text, "\"乙\"", 0));
        assert_eq!(position(text, &items.i(0).f("n")), find(text, "1.5", 0));
        let b = items.key(1, "b");
        assert_eq!(position(text, &b), find(text, "(id: \"b\"", 1), "not the one in the comment");
        assert_eq!(position(text, &b.f("decided_by").inner(0).i(1)), find(text, "\"y\"", 0));
        assert_eq!(position(text, &b.f("s").f("p")), find(text, "r#", 0), "through Some(…)");
        assert_eq!(position(text, &Spot::at("hours").i(0).i(1)), find(text, "\"12:00\"", 0));
        assert_eq!(position(text, &Spot::at("m").i(0)), find(text, "1}", 0));
        // A field left out: the deepest value on the way.
        assert_eq!(position(text, &items.i(0).f("materials").i(3)), find(text, "(id: \"a\"", 0));
        assert_eq!(position(text, &Spot::default()), (2, 1));
    }

    #[test]
    fn the_innermost_value_and_its_path() {
        let text = "(\n  items: [(id: \"a\", n: 1), (id: \"b\", n: 1.5, d: Department(\"x\"))],\n  years: [(year: 2026, h: [\"1\"])],\n)";
        let tree = read(text).unwrap();
        let at = |needle: &str, plus: usize| text.find(needle).unwrap() + plus;
        let (node, path) = tree.innermost(text, at("1.5", 1));
        assert_eq!((node.atom(text), path.as_str()), (Some("1.5"), "items[b].n"));
        let (node, path) = tree.innermost(text, at("\"x\"", 0));
        assert_eq!((node.atom(text), path.as_str()), (Some("\"x\""), "items[b].d"));
        assert_eq!(tree.innermost(text, at("\"1\"", 1)).1, "years[2026].h[0]");
        assert_eq!(tree.innermost(text, 0).1, "");
        let lines = Lines::new(text);
        for offset in [0, at("1.5", 0), at("years", 0), text.len()] {
            let (line, col) = lines.line_col(offset);
            assert_eq!(lines.offset(line, col), offset);
        }
        assert_eq!(lines.offset(2, 999), at("\n  years", 0), "past the end of a line");
        assert_eq!(lines.offset(99, 1), text.len(), "past the end of the text");
    }

    #[test]
    fn paths_read_as_the_docs_write_them() {
        let p = Spot::at("bundles").key(0, "open-restaurant").f("members").i(2).f("when").f("field");
        assert_eq!(p.to_string(), "bundles[open-restaurant].members[2].when.field");
        assert_eq!(Spot::at("items").key(4, "x").f("decided_by").inner(0).to_string(), "items[x].decided_by");
        assert_eq!(Spot::at("items").key(4, "x").f("decided_by").inner(0).i(1).to_string(), "items[x].decided_by[1]");
    }

    #[test]
    fn an_unclosed_string_is_reported_where_it_opens() {
        // At the end of the text.
        assert_eq!(read("(a: \"x\", b: \"y)").err(), Some(ReadError::UnclosedString(12)));
        // Mid-file: the quote pairs up with the next string's opening quote, and the text after
        // it cannot follow a string.
        let text = "(\n  name: \"食品,\n  id: \"x\",\n)";
        assert_eq!(read(text).err(), Some(ReadError::UnclosedString(10)));
        // A string may legitimately span lines.
        assert!(read("(a: \"one\ntwo\", b: 1)").is_ok());
        assert_eq!(read("(a: 1 /* open").err(), Some(ReadError::UnclosedComment(6)));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(100_000);
        assert!(matches!(read(&deep), Err(ReadError::Other(_))));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(read(&ok).is_ok());
    }

    #[test]
    fn columns_count_characters_on_long_lines() {
        let line = format!("{}x", "é".repeat(10_000));
        let lines = Lines::new(&line);
        assert_eq!(lines.line_col(line.len() - 1), (1, 10_001));
        let text = "ab\n中文x\n";
        assert_eq!(Lines::new(text).line_col(text.find('x').unwrap()), (2, 3));
    }

    #[test]
    fn the_examples_read() {
        for name in ["minimal", "county-hall", "pharmacy", "parity-hall"] {
            let path = format!("{}/../../examples/definitions/{name}.ron", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).expect("the example exists");
            let tree = read(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(tree.offset_of(&Spot::at("items").i(0).f("id")) > 0, "{name}");
        }
    }
}
