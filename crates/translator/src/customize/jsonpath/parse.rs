//! The parser of Customizer paths.
//!
//! The grammar is KubeStellar v0.14.2's (`pkg/jsonpath/{lexer,parser}.go`), so every path
//! that works there parses here to the same selectors:
//!
//! ```text
//! path     = "$" selector*
//! selector = "." ident | "." int | "." "*"
//!          | "[" "*" "]" | "[" int ("," int)* "]" | "[" string ("," string)* "]"
//!          | "[" [int] ":" [int] [":" [int]] "]"
//!          | ".." ( "*" | ident | selector )
//! ident    = JavaScript identifier: ( letter | "_" | "$" ) ( letter | digit | "_" | "$" )*
//! int      = decimal digits
//! string   = '…' or "…" with JavaScript escapes
//! ```
//!
//! Where orrery accepts more, it is only what KubeStellar rejects outright, so no path
//! changes meaning:
//!
//! - `..name` (the usual JSONPath spelling) as well as KubeStellar's `...name`;
//! - spaces inside brackets (`['a', 'b']`).
//!
//! And where KubeStellar would hang or crash, orrery reports an error instead: a stride of
//! 0 (an endless loop there) and a trailing `..` (endless recursion there).
//!
//! A name with characters outside an identifier — a label key like `app.kubernetes.io/name`,
//! or `my-label` — must be quoted: `$.metadata.labels['app.kubernetes.io/name']`. The error
//! for an unquoted one says so.

use super::{ParseError, ParseErrorKind, Selector};

/// Parses `text` into its selectors (see the module doc for the grammar).
pub(super) fn parse(text: &str) -> Result<Vec<Selector>, ParseError> {
    let mut p = Parser { text, chars: text.chars().collect(), pos: 0 };
    p.path()
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    /// Index into `chars`: the position errors report (0-based, in characters).
    pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '$' || c == '_' || c.is_alphabetic()
}

fn is_ident_part(c: char) -> bool {
    // U+200C/U+200D (zero-width non-joiner/joiner) are identifier parts in JavaScript.
    is_ident_start(c) || c.is_numeric() || c == '\u{200C}' || c == '\u{200D}'
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn error(&self, position: usize, kind: ParseErrorKind) -> ParseError {
        ParseError { path: self.text.to_owned(), position, kind }
    }

    /// An "expected …" error at the current position, naming what is there instead.
    fn expected(&self, expected: &'static str) -> ParseError {
        let found = match self.peek() {
            None => "the end of the path".to_owned(),
            Some(c) => format!("{c:?}"),
        };
        self.error(self.pos, ParseErrorKind::Expected { expected, found })
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn path(&mut self) -> Result<Vec<Selector>, ParseError> {
        if !self.eat('$') {
            return Err(self.error(0, ParseErrorKind::NoDollar));
        }
        let mut selectors = Vec::new();
        while self.peek().is_some() {
            let start = self.pos;
            if self.peek() == Some('.') && self.peek_at(1) == Some('.') {
                self.pos += 2;
                selectors.push(Selector::Descend);
                match self.peek() {
                    None => return Err(self.error(start, ParseErrorKind::TrailingDescent)),
                    Some('*') => {
                        self.pos += 1;
                        selectors.push(Selector::EveryChild);
                    }
                    Some(c) if is_ident_start(c) => selectors.push(Selector::Name(self.ident())),
                    // `.name`, `[…]` or another `..` follow as selectors of their own.
                    Some('.' | '[') => {}
                    Some(_) => return Err(self.expected("`*`, a name, `.` or `[` after `..`")),
                }
            } else if self.eat('.') {
                selectors.push(self.dotted()?);
            } else if self.eat('[') {
                selectors.push(self.bracketed()?);
            } else if start == 1 {
                return Err(self.expected("`.` or `[` after `$`"));
            } else {
                return Err(self.expected("`.`, `..` or `[` (quote names with other characters: ['my-key'])"));
            }
        }
        Ok(selectors)
    }

    /// What follows a single `.`: a name, an index or `*`.
    fn dotted(&mut self) -> Result<Selector, ParseError> {
        match self.peek() {
            Some('*') => {
                self.pos += 1;
                Ok(Selector::EveryChild)
            }
            Some(c) if c.is_ascii_digit() => Ok(Selector::Index(self.int()?)),
            Some(c) if is_ident_start(c) => Ok(Selector::Name(self.ident())),
            _ => Err(self.expected("a name, an index or `*` after `.` (quote other names: ['my-key'])")),
        }
    }

    /// What follows `[`, up to and including the `]`.
    fn bracketed(&mut self) -> Result<Selector, ParseError> {
        self.skip_spaces();
        match self.peek() {
            Some('*') => {
                self.pos += 1;
                self.close()?;
                Ok(Selector::EveryChild)
            }
            Some(':') => {
                self.pos += 1;
                self.slice(0)
            }
            Some(c) if c.is_ascii_digit() => {
                let first = self.int()?;
                self.skip_spaces();
                if self.eat(':') {
                    return self.slice(first);
                }
                let mut items = vec![Selector::Index(first)];
                while self.list_continues()? {
                    if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        return Err(self.expected("an index (a list holds only indexes or only quoted names)"));
                    }
                    items.push(Selector::Index(self.int()?));
                }
                Ok(single_or_list(items))
            }
            Some('\'' | '"') => {
                let mut items = vec![Selector::Name(self.string()?)];
                while self.list_continues()? {
                    if !matches!(self.peek(), Some('\'' | '"')) {
                        return Err(self.expected("a quoted name (a list holds only indexes or only quoted names)"));
                    }
                    items.push(Selector::Name(self.string()?));
                }
                Ok(single_or_list(items))
            }
            _ => Err(self.expected("`*`, an index, a slice or a quoted name after `[`")),
        }
    }

    /// After a list item: `true` at `,` (consumed), `false` at `]` (consumed).
    fn list_continues(&mut self) -> Result<bool, ParseError> {
        self.skip_spaces();
        if self.eat(']') {
            return Ok(false);
        }
        if !self.eat(',') {
            return Err(self.expected("`,` or `]`"));
        }
        self.skip_spaces();
        Ok(true)
    }

    fn close(&mut self) -> Result<(), ParseError> {
        self.skip_spaces();
        if self.eat(']') { Ok(()) } else { Err(self.expected("`]`")) }
    }

    /// The rest of `[start:end:stride]` after the first `:`.
    fn slice(&mut self, start: usize) -> Result<Selector, ParseError> {
        self.skip_spaces();
        let end = if self.peek().is_some_and(|c| c.is_ascii_digit()) { Some(self.int()?) } else { None };
        self.skip_spaces();
        let mut stride = 1;
        if self.eat(':') {
            self.skip_spaces();
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let at = self.pos;
                stride = self.int()?;
                if stride == 0 {
                    return Err(self.error(at, ParseErrorKind::ZeroStride));
                }
            }
        }
        self.skip_spaces();
        if !self.eat(']') {
            return Err(self.expected("`]` to close the slice `[start:end:stride]`"));
        }
        Ok(Selector::Slice { start, end, stride })
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_part) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn int(&mut self) -> Result<usize, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().map_err(|_| self.error(start, ParseErrorKind::NumberTooLarge(digits)))
    }

    /// A quoted string with JavaScript escapes; the opening quote is at the current position.
    fn string(&mut self) -> Result<String, ParseError> {
        let open_at = self.pos;
        let quote = self.chars[open_at];
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(open_at, ParseErrorKind::UnterminatedString));
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escape_at = self.pos - 1;
            let Some(e) = self.peek() else {
                return Err(self.error(open_at, ParseErrorKind::UnterminatedString));
            };
            self.pos += 1;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '0' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => out.push('\0'),
                'x' => {
                    let code = self.hex(2, escape_at)?;
                    out.push(self.code_point(code, escape_at)?);
                }
                'u' => {
                    let c = self.unicode_escape(escape_at)?;
                    out.push(c);
                }
                // A backslash before a line break continues the string on the next line.
                '\n' | '\u{2028}' | '\u{2029}' => {}
                '\r' => {
                    self.eat('\n');
                }
                '1'..='9' | '0' => return Err(self.error(escape_at, ParseErrorKind::BadEscape)),
                other => out.push(other),
            }
        }
    }

    /// `\uXXXX` (with a following `\uXXXX` for a surrogate pair) or `\u{X…}`, after the `u`.
    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, ParseError> {
        if self.eat('{') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits: String = self.chars[start..self.pos].iter().collect();
            if digits.is_empty() || !self.eat('}') {
                return Err(self.error(escape_at, ParseErrorKind::BadEscape));
            }
            let code =
                u32::from_str_radix(&digits, 16).map_err(|_| self.error(escape_at, ParseErrorKind::BadEscape))?;
            return self.code_point(code, escape_at);
        }
        let high = self.hex(4, escape_at)?;
        if (0xD800..0xDC00).contains(&high) && self.peek() == Some('\\') && self.peek_at(1) == Some('u') {
            self.pos += 2;
            let low = self.hex(4, escape_at)?;
            if (0xDC00..0xE000).contains(&low) {
                return self.code_point(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), escape_at);
            }
        }
        self.code_point(high, escape_at)
    }

    fn hex(&mut self, len: usize, escape_at: usize) -> Result<u32, ParseError> {
        let mut code = 0;
        for _ in 0..len {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(d) = digit else {
                return Err(self.error(escape_at, ParseErrorKind::BadEscape));
            };
            code = code * 16 + d;
            self.pos += 1;
        }
        Ok(code)
    }

    /// A code point as a char; lone surrogates cannot be in a Rust (or JSON member) string.
    fn code_point(&self, code: u32, escape_at: usize) -> Result<char, ParseError> {
        char::from_u32(code).ok_or_else(|| self.error(escape_at, ParseErrorKind::BadEscape))
    }
}

/// `[x]` means the same as `.x`; only two or more items make a list (as in KubeStellar).
fn single_or_list(mut items: Vec<Selector>) -> Selector {
    if items.len() == 1 { items.remove(0) } else { Selector::List(items) }
}
