//! The name and label grammars of apimachinery (`k8s.io/apimachinery/pkg/util/validation`).
//!
//! Each check returns the list of problems as sentences (empty = valid), phrased as the
//! Kubernetes API server phrases them, so users see the messages they already know.

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn dns1123_label_shape(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// A DNS-1123 label: namespaces, most resource names that become hostnames.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(format!("must be no more than {DNS1123_LABEL_MAX} characters"));
    }
    if !dns1123_label_shape(s) {
        errs.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
                .to_owned(),
        );
    }
    errs
}

/// A DNS-1123 subdomain: the name of most objects, API group names.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(format!("must be no more than {DNS1123_SUBDOMAIN_MAX} characters"));
    }
    if !s.split('.').all(dns1123_label_shape) {
        errs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
                .to_owned(),
        );
    }
    errs
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn qualified_name_part_shape(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(is_alnum)
        && s.ends_with(is_alnum)
        && s.chars().all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A qualified name, `[prefix/]name`: label and annotation keys, finalizers.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errs.push("prefix part must be non-empty".to_owned());
        } else {
            errs.extend(dns1123_subdomain(prefix).into_iter().map(|e| format!("prefix part {e}")));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errs.push(format!("name part must be no more than {QUALIFIED_NAME_MAX} characters"));
    }
    if !name.is_empty() && !qualified_name_part_shape(name) {
        errs.push(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
             and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
                .to_owned(),
        );
    }
    errs
}

/// A label value: empty, or a qualified-name part of at most 63 characters.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        errs.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !s.is_empty() && !qualified_name_part_shape(s) {
        errs.push(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', \
             or 'my_value', or '12345')"
                .to_owned(),
        );
    }
    errs
}

/// A name usable as one path segment of a URL (what the API server demands of every name).
pub fn path_segment_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s == "." || s == ".." {
        errs.push(format!("may not be '{s}'"));
    }
    for bad in ['/', '%'] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        let table = [
            ("a", true),
            ("abc-123", true),
            ("0ab", true),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("A", false),
            ("a.b", false),
            ("a_b", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ];
        for (s, ok) in table {
            assert_eq!(dns1123_label(s).is_empty(), ok, "{s:?}");
        }
    }

    #[test]
    fn dns1123_subdomains() {
        let table = [
            ("edge.kubestellar.io", true),
            ("a", true),
            ("a..b", false),
            (".a", false),
            ("a.", false),
            ("Edge.io", false),
            (&format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)), true),
            (&format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(62)), false),
        ];
        for (s, ok) in table {
            assert_eq!(dns1123_subdomain(s).is_empty(), ok, "{s:?}");
        }
    }

    #[test]
    fn qualified_names() {
        let table = [
            ("app", true),
            ("App_1.x-y", true),
            ("edge.kubestellar.io/projected", true),
            ("kubernetes.io/metadata.name", true),
            ("/a", false),
            ("a/", false),
            ("a/b/c", false),
            ("Foo.io/a", false),
            ("_a", false),
            ("a b", false),
            (&"a".repeat(64), false),
        ];
        for (s, ok) in table {
            assert_eq!(qualified_name(s).is_empty(), ok, "{s:?}");
        }
    }

    #[test]
    fn label_values() {
        let table =
            [("", true), ("v1", true), ("a.b_c-d", true), ("-a", false), ("a b", false), (&"x".repeat(64), false)];
        for (s, ok) in table {
            assert_eq!(label_value(s).is_empty(), ok, "{s:?}");
        }
    }

    #[test]
    fn path_segments() {
        let table = [("ok", true), ("Any Thing:1", true), (".", false), ("..", false), ("a/b", false), ("a%2f", false)];
        for (s, ok) in table {
            assert_eq!(path_segment_name(s).is_empty(), ok, "{s:?}");
        }
    }
}
