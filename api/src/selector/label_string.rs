//! The label-selector string syntax of `?labelSelector=` and `kubectl -l`:
//! `a=b,c!=d,e in (x,y),f notin (z),g,!h` (apimachinery's `labels.Parse`).
//!
//! Errors carry the column of the offending token, so a long selector typed on a command
//! line tells its author exactly where it went wrong.

use super::{Expression, Selector};
use crate::validation::names;
use std::collections::BTreeSet;

/// A label-selector string that does not parse. `column` is 1-based, in characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {input:?}: at column {column}: {message}")]
pub struct LabelSelectorParseError {
    pub input: String,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Comma,
    Open,
    Close,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Bang => "'!'".into(),
            Tok::Eq => "'='".into(),
            Tok::DoubleEq => "'=='".into(),
            Tok::NotEq => "'!='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Lt => "'<'".into(),
            Tok::Comma => "','".into(),
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::End => "the end".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | ',' | '(' | ')' | '<' | '>')
}

/// Splits the input into tokens, each with its 0-based character position.
fn lex(input: &str) -> Vec<(usize, Tok)> {
    let chars: Vec<char> = input.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('!', Some('=')) => (Tok::NotEq, 2),
            ('=', Some('=')) => (Tok::DoubleEq, 2),
            ('!', _) => (Tok::Bang, 1),
            ('=', _) => (Tok::Eq, 1),
            ('>', _) => (Tok::Gt, 1),
            ('<', _) => (Tok::Lt, 1),
            (',', _) => (Tok::Comma, 1),
            ('(', _) => (Tok::Open, 1),
            (')', _) => (Tok::Close, 1),
            _ => {
                let len = chars[i..].iter().take_while(|c| !c.is_whitespace() && !is_special(**c)).count();
                (Tok::Ident(chars[i..i + len].iter().collect()), len)
            }
        };
        toks.push((i, tok));
        i += len;
    }
    toks.push((chars.len(), Tok::End));
    toks
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<(usize, Tok)>,
    at: usize,
}

/// Parses a label-selector string. The empty string (or only blanks) selects everything.
pub fn parse_label_selector(input: &str) -> Result<Selector, LabelSelectorParseError> {
    let mut p = Parser { input, toks: lex(input), at: 0 };
    let mut exprs = Vec::new();
    if p.peek() == &Tok::End {
        return Ok(Selector::default());
    }
    loop {
        exprs.push(p.requirement()?);
        match p.next() {
            (_, Tok::End) => break,
            (_, Tok::Comma) if p.peek() == &Tok::End => {
                return Err(p.error_here("expected a requirement after ','"));
            }
            (_, Tok::Comma) => {}
            (pos, t) => return Err(p.error(pos, format!("expected ',' or the end, found {}", t.describe()))),
        }
    }
    Ok(exprs.into_iter().collect())
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> LabelSelectorParseError {
        LabelSelectorParseError { input: self.input.to_owned(), column: pos + 1, message: message.into() }
    }

    fn error_here(&self, message: impl Into<String>) -> LabelSelectorParseError {
        self.error(self.toks[self.at].0, message)
    }

    fn key(&mut self) -> Result<String, LabelSelectorParseError> {
        match self.next() {
            (pos, Tok::Ident(key)) => match names::qualified_name(&key).first() {
                Some(problem) => Err(self.error(pos, format!("invalid label key {key:?}: {problem}"))),
                None => Ok(key),
            },
            (pos, t) => Err(self.error(pos, format!("expected a label key, found {}", t.describe()))),
        }
    }

    fn value(&self, pos: usize, value: String) -> Result<String, LabelSelectorParseError> {
        match names::label_value(&value).first() {
            Some(problem) => Err(self.error(pos, format!("invalid label value {value:?}: {problem}"))),
            None => Ok(value),
        }
    }

    fn requirement(&mut self) -> Result<Expression, LabelSelectorParseError> {
        if self.peek() == &Tok::Bang {
            self.next();
            let key = self.key()?;
            return match self.peek() {
                Tok::Comma | Tok::End => Ok(Expression::DoesNotExist(key)),
                t => Err(self.error_here(format!("'!{key}' takes no operator or value, found {}", t.describe()))),
            };
        }
        let key = self.key()?;
        let (pos, op) = match self.peek() {
            Tok::Comma | Tok::End => return Ok(Expression::Exists(key)),
            _ => self.next(),
        };
        match op {
            Tok::Eq | Tok::DoubleEq => Ok(Expression::Equal(key, self.single_value()?)),
            Tok::NotEq => Ok(Expression::NotEqual(key, self.single_value()?)),
            Tok::Ident(word) if word == "in" => Ok(Expression::In(key, self.value_set()?)),
            Tok::Ident(word) if word == "notin" => Ok(Expression::NotIn(key, self.value_set()?)),
            Tok::Gt | Tok::Lt => Err(self.error(
                pos,
                format!("operator {} applies to node selector terms only, not to label selectors", op.describe()),
            )),
            t => Err(self.error(
                pos,
                format!("expected one of '=', '==', '!=', 'in', 'notin' after key {key:?}, found {}", t.describe()),
            )),
        }
    }

    /// The value after `=`, `==` or `!=`; nothing before ',' or the end is the empty value.
    fn single_value(&mut self) -> Result<String, LabelSelectorParseError> {
        match self.peek() {
            Tok::Comma | Tok::End => Ok(String::new()),
            _ => match self.next() {
                (pos, Tok::Ident(v)) => self.value(pos, v),
                (pos, t) => Err(self.error(pos, format!("expected a label value, found {}", t.describe()))),
            },
        }
    }

    /// `( v1, v2, … )`. As in Kubernetes, a missing value between commas (or `()`) is "".
    fn value_set(&mut self) -> Result<BTreeSet<String>, LabelSelectorParseError> {
        match self.next() {
            (_, Tok::Open) => {}
            (pos, t) => return Err(self.error(pos, format!("expected '(' after 'in'/'notin', found {}", t.describe()))),
        }
        let mut values = BTreeSet::new();
        loop {
            let (pos, value) = match self.peek() {
                Tok::Ident(_) => match self.next() {
                    (pos, Tok::Ident(v)) => (pos, v),
                    _ => unreachable!("peeked an identifier"),
                },
                _ => (self.toks[self.at].0, String::new()),
            };
            values.insert(self.value(pos, value)?);
            match self.next() {
                (_, Tok::Comma) => {}
                (_, Tok::Close) => return Ok(values),
                (pos, Tok::End) => return Err(self.error(pos, "expected ')' to close the value list, found the end")),
                (pos, t) => {
                    return Err(self.error(pos, format!("expected ',' or ')' in a value list, found {}", t.describe())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::SelectorExt;

    #[test]
    fn parses_every_form() {
        let set = |vs: &[&str]| vs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let table: Vec<(&str, Vec<Expression>)> = vec![
            ("", vec![]),
            ("   ", vec![]),
            ("a=b", vec![Expression::Equal("a".into(), "b".into())]),
            ("a==b", vec![Expression::Equal("a".into(), "b".into())]),
            ("a!=b", vec![Expression::NotEqual("a".into(), "b".into())]),
            ("a=", vec![Expression::Equal("a".into(), "".into())]),
            ("a", vec![Expression::Exists("a".into())]),
            ("!a", vec![Expression::DoesNotExist("a".into())]),
            ("a in (x,y)", vec![Expression::In("a".into(), set(&["x", "y"]))]),
            ("a notin (z)", vec![Expression::NotIn("a".into(), set(&["z"]))]),
            ("a in ()", vec![Expression::In("a".into(), set(&[""]))]),
            ("a in (x,)", vec![Expression::In("a".into(), set(&["x", ""]))]),
            (" a = b , c ", vec![Expression::Equal("a".into(), "b".into()), Expression::Exists("c".into())]),
            (
                "a=b,c!=d,e in (x,y),f notin (z),g,!h",
                vec![
                    Expression::Equal("a".into(), "b".into()),
                    Expression::NotEqual("c".into(), "d".into()),
                    Expression::In("e".into(), set(&["x", "y"])),
                    Expression::NotIn("f".into(), set(&["z"])),
                    Expression::Exists("g".into()),
                    Expression::DoesNotExist("h".into()),
                ],
            ),
            (
                "edge.kubestellar.io/projected=yes",
                vec![Expression::Equal("edge.kubestellar.io/projected".into(), "yes".into())],
            ),
        ];
        for (input, want) in table {
            let got = parse_label_selector(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got, want.into_iter().collect::<Selector>(), "{input:?}");
        }
    }

    #[test]
    fn parsed_selectors_match_like_kubernetes() {
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let table: Vec<Case> = vec![
            ("a=b", &[("a", "b")], true),
            ("a=b", &[("a", "c")], false),
            ("a!=b", &[], true),
            ("a in (x,y),!h", &[("a", "y")], true),
            ("a in (x,y),!h", &[("a", "y"), ("h", "")], false),
            ("a notin (x)", &[], true),
            ("a=", &[("a", "")], true),
            ("a=", &[], false),
        ];
        for (input, l, want) in table {
            let sel = parse_label_selector(input).expect("valid");
            assert_eq!(sel.matches(&labels(l)), want, "{input:?} on {l:?}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let table = [
            ("a=b,", 5, "expected a requirement after ','"),
            (",a", 1, "expected a label key, found ','"),
            ("a in (x", 8, "expected ')' to close the value list"),
            ("a in x", 6, "expected '(' after 'in'/'notin', found \"x\""),
            ("a b", 3, "expected one of '=', '==', '!=', 'in', 'notin' after key \"a\", found \"b\""),
            ("a=b c", 5, "expected ',' or the end, found \"c\""),
            ("!a=b", 3, "'!a' takes no operator or value, found '='"),
            ("a>1", 2, "operator '>' applies to node selector terms only"),
            ("-a=b", 1, "invalid label key \"-a\""),
            ("a=b!", 4, "expected ',' or the end, found '!'"),
            ("a=-b", 3, "invalid label value \"-b\""),
            ("x,a in (ok,bad!)", 15, "expected ',' or ')' in a value list, found '!'"),
            ("a in (x y)", 9, "expected ',' or ')' in a value list, found \"y\""),
            ("a=(", 3, "expected a label value, found '('"),
        ];
        for (input, column, msg) in table {
            let err = parse_label_selector(input).expect_err(input);
            assert_eq!(err.column, column, "{input:?}: {err}");
            assert!(err.message.starts_with(msg), "{input:?}: {err}");
            assert!(err.to_string().contains(&format!("{input:?}")), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for input in ["a=b", "a!=b", "a in (x,y)", "a notin (z)", "a", "!a", "a=b,c in (d),!e"] {
            let sel = parse_label_selector(input).expect("valid");
            assert_eq!(parse_label_selector(&sel.to_string()).expect("re-parse"), sel, "{input}");
        }
    }
}
