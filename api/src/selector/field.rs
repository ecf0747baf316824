//! The field-selector string syntax of `?fieldSelector=` (apimachinery's `fields.ParseSelector`):
//! `metadata.name=a,metadata.namespace!=b`, with `==` as a synonym of `=` and backslash
//! escapes (`\,` `\=` `\\`) for those characters inside values.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A conjunction of field requirements; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<FieldRequirement>);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid field selector {input:?}: {message}")]
pub struct FieldSelectorParseError {
    pub input: String,
    pub message: String,
}

impl FieldSelector {
    /// Parses a field-selector string. The empty string selects everything.
    pub fn parse(input: &str) -> Result<Self, FieldSelectorParseError> {
        let err = |message: String| FieldSelectorParseError { input: input.to_owned(), message };
        let mut reqs = Vec::new();
        for term in split_unescaped(input, ',') {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(err(format!("{term:?} is not of the form field=value, field==value or field!=value")));
            };
            if field.is_empty() {
                return Err(err(format!("{term:?} names no field before the operator")));
            }
            let value = unescape(raw).map_err(|m| err(format!("in {term:?}: {m}")))?;
            reqs.push(FieldRequirement { field: field.to_owned(), operator, value });
        }
        Ok(Self(reqs))
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when every requirement holds. `value_of` gives a field's value; a field it does
    /// not know reads as empty, as in Kubernetes. The caller decides which fields a kind
    /// supports and rejects the others before matching.
    pub fn matches<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| {
            let actual = value_of(&r.field).unwrap_or("");
            match r.operator {
                FieldOperator::Equals => actual == r.value,
                FieldOperator::NotEquals => actual != r.value,
            }
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                let op = match r.operator {
                    FieldOperator::Equals => "=",
                    FieldOperator::NotEquals => "!=",
                };
                format!("{}{op}{}", r.field, escape(&r.value))
            })
            .collect();
        f.write_str(&terms.join(","))
    }
}

/// Splits on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Finds the first unescaped operator; `!=` and `==` win over `=` at the same place.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    let mut escaped = false;
    for (i, c) in term.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        let rest = &term[i..];
        if c == '\\' {
            escaped = true;
        } else if rest.starts_with("!=") {
            return Some((&term[..i], FieldOperator::NotEquals, &term[i + 2..]));
        } else if rest.starts_with("==") {
            return Some((&term[..i], FieldOperator::Equals, &term[i + 2..]));
        } else if c == '=' {
            return Some((&term[..i], FieldOperator::Equals, &term[i + 1..]));
        }
    }
    None
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(format!("invalid escape sequence '\\{e}' (only \\\\, \\, and \\= are allowed)")),
                None => return Err("a value may not end with a lone '\\'".to_owned()),
            },
            ',' | '=' => return Err(format!("'{c}' in a value must be escaped as '\\{c}'")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldOperator::*;

    fn req(field: &str, operator: FieldOperator, value: &str) -> FieldRequirement {
        FieldRequirement { field: field.into(), operator, value: value.into() }
    }

    #[test]
    fn parses_every_form() {
        let table = [
            ("", vec![]),
            ("metadata.name=a", vec![req("metadata.name", Equals, "a")]),
            ("metadata.name==a", vec![req("metadata.name", Equals, "a")]),
            ("metadata.name!=a", vec![req("metadata.name", NotEquals, "a")]),
            ("metadata.name=", vec![req("metadata.name", Equals, "")]),
            (
                "involvedObject.name=p,involvedObject.namespace=default",
                vec![req("involvedObject.name", Equals, "p"), req("involvedObject.namespace", Equals, "default")],
            ),
            ("a=x\\,y", vec![req("a", Equals, "x,y")]),
            ("a=x\\=y\\\\", vec![req("a", Equals, "x=y\\")]),
            ("a=b,,c=d", vec![req("a", Equals, "b"), req("c", Equals, "d")]),
        ];
        for (input, want) in table {
            assert_eq!(FieldSelector::parse(input).map(|s| s.0), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_syntax_with_the_term() {
        let table = [
            ("metadata.name", "\"metadata.name\" is not of the form"),
            ("a=b,c", "\"c\" is not of the form"),
            ("=a", "names no field"),
            ("a=b=c", "'=' in a value must be escaped"),
            ("a=x\\y", "invalid escape sequence '\\y'"),
            ("a=x\\", "lone '\\'"),
        ];
        for (input, want) in table {
            let err = FieldSelector::parse(input).expect_err(input);
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn matches_like_kubernetes() {
        let fields = |f: &str| match f {
            "metadata.name" => Some("web"),
            "metadata.namespace" => Some("prod"),
            _ => None,
        };
        let table = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name=db", false),
            ("metadata.name!=db", true),
            ("metadata.name=web,metadata.namespace=prod", true),
            ("metadata.name=web,metadata.namespace!=prod", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
        ];
        for (input, want) in table {
            assert_eq!(FieldSelector::parse(input).expect(input).matches(fields), want, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips_escapes() {
        for input in ["a=b", "a!=b", "a=x\\,y,b=\\=", "a=\\\\"] {
            let sel = FieldSelector::parse(input).expect(input);
            assert_eq!(FieldSelector::parse(&sel.to_string()), Ok(sel), "{input}");
        }
    }
}
