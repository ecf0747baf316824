use super::*;
use serde_json::json;

fn name(n: &str) -> Selector {
    Selector::Name(n.to_owned())
}

fn slice(start: usize, end: Option<usize>, stride: usize) -> Selector {
    Selector::Slice { start, end, stride }
}

#[test]
fn parses_the_kubestellar_grammar() {
    use Selector::{Descend, EveryChild, Index, List};
    let table: Vec<(&str, Vec<Selector>)> = vec![
        ("$", vec![]),
        ("$.spec.replicas", vec![name("spec"), name("replicas")]),
        (
            "$.spec.template.spec.containers.0.env.0.value",
            vec![
                name("spec"),
                name("template"),
                name("spec"),
                name("containers"),
                Index(0),
                name("env"),
                Index(0),
                name("value"),
            ],
        ),
        ("$.a[1]", vec![name("a"), Index(1)]),
        ("$.1", vec![Index(1)]),
        ("$.12.007", vec![Index(12), Index(7)]),
        ("$.a[1:4]", vec![name("a"), slice(1, Some(4), 1)]),
        ("$.a[:4]", vec![name("a"), slice(0, Some(4), 1)]),
        ("$[1:4:9]", vec![slice(1, Some(4), 9)]),
        ("$[1::9]", vec![slice(1, None, 9)]),
        ("$[:4:9]", vec![slice(0, Some(4), 9)]),
        ("$[::9]", vec![slice(0, None, 9)]),
        ("$[::]", vec![slice(0, None, 1)]),
        ("$[:]", vec![slice(0, None, 1)]),
        ("$[2:]", vec![slice(2, None, 1)]),
        ("$.*", vec![EveryChild]),
        ("$[*]", vec![EveryChild]),
        ("$..*", vec![Descend, EveryChild]),
        // KubeStellar spells a recursive name `...name`; orrery also takes `..name`.
        ("$...image", vec![Descend, name("image")]),
        ("$..image", vec![Descend, name("image")]),
        ("$..['image']", vec![Descend, name("image")]),
        ("$..[0]", vec![Descend, Index(0)]),
        ("$....a", vec![Descend, Descend, name("a")]),
        // lists; one item is not a list
        ("$[0,2,5]", vec![List(vec![Index(0), Index(2), Index(5)])]),
        ("$['a']", vec![name("a")]),
        ("$['a',\"b\"]", vec![List(vec![name("a"), name("b")])]),
        ("$[ 'a' , 'b' ]", vec![List(vec![name("a"), name("b")])]),
        ("$[ 1 : 3 ]", vec![slice(1, Some(3), 1)]),
        // quoted names hold any key
        (
            "$.metadata.labels['app.kubernetes.io/name']",
            vec![name("metadata"), name("labels"), name("app.kubernetes.io/name")],
        ),
        ("$['my-label']", vec![name("my-label")]),
        ("$['']", vec![name("")]),
        // JavaScript escapes
        (r"$['it\'s']", vec![name("it's")]),
        (r#"$["a\"b\\c"]"#, vec![name("a\"b\\c")]),
        (r"$['\n\t\x41\u0042\u{43}\q']", vec![name("\n\tABCq")]),
        (r"$['\uD83D\uDE00']", vec![name("😀")]),
        // JavaScript identifiers
        ("$.$ref._x.café.a1", vec![name("$ref"), name("_x"), name("café"), name("a1")]),
    ];
    for (text, want) in table {
        let path = Path::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
        assert_eq!(path.selectors(), want.as_slice(), "parsing {text:?}");
        assert_eq!(path.to_string(), text, "a path displays as written");
    }
}

#[test]
fn rejects_bad_paths_with_a_position() {
    use ParseErrorKind::*;
    // (path, position, what the error is)
    type Row = (&'static str, usize, fn(&ParseErrorKind) -> bool);
    let table: Vec<Row> = vec![
        ("", 0, |k| *k == NoDollar),
        ("spec.replicas", 0, |k| *k == NoDollar),
        (".spec", 0, |k| *k == NoDollar),
        ("$spec", 1, |k| matches!(k, Expected { .. })),
        ("$.", 2, |k| matches!(k, Expected { .. })),
        ("$.spec.", 7, |k| matches!(k, Expected { .. })),
        ("$.my-label", 4, |k| matches!(k, Expected { .. })),
        ("$.metadata.labels.app.kubernetes.io/name", 35, |k| matches!(k, Expected { .. })),
        ("$.a b", 3, |k| matches!(k, Expected { .. })),
        ("$ .a", 1, |k| matches!(k, Expected { .. })),
        ("$.-1", 2, |k| matches!(k, Expected { .. })),
        ("$[-1]", 2, |k| matches!(k, Expected { .. })),
        ("$[", 2, |k| matches!(k, Expected { .. })),
        ("$[0", 3, |k| matches!(k, Expected { .. })),
        ("$[0,]", 4, |k| matches!(k, Expected { .. })),
        ("$[0,'a']", 4, |k| matches!(k, Expected { .. })),
        ("$['a',0]", 6, |k| matches!(k, Expected { .. })),
        ("$[a]", 2, |k| matches!(k, Expected { .. })),
        ("$[*", 3, |k| matches!(k, Expected { .. })),
        ("$[1:2:3:4]", 7, |k| matches!(k, Expected { .. })),
        ("$[1:x]", 4, |k| matches!(k, Expected { .. })),
        ("$[0x1]", 3, |k| matches!(k, Expected { .. })),
        ("$..", 1, |k| *k == TrailingDescent),
        ("$.a..", 3, |k| *k == TrailingDescent),
        ("$..-", 3, |k| matches!(k, Expected { .. })),
        ("$[::0]", 4, |k| *k == ZeroStride),
        ("$[99999999999999999999999]", 2, |k| matches!(k, NumberTooLarge(_))),
        ("$['abc", 2, |k| *k == UnterminatedString),
        ("$['abc\\", 2, |k| *k == UnterminatedString),
        (r"$['\x4']", 3, |k| *k == BadEscape),
        (r"$['\u{110000}']", 3, |k| *k == BadEscape),
        (r"$['\uD800']", 3, |k| *k == BadEscape),
        (r"$['\1']", 3, |k| *k == BadEscape),
    ];
    for (text, position, is_kind) in table {
        let err = Path::parse(text).expect_err(text);
        assert_eq!(err.position, position, "position of the error in {text:?}: {err}");
        assert!(is_kind(&err.kind), "kind of the error in {text:?}: {err}");
        assert_eq!(err.path, text);
    }
}

#[test]
fn errors_say_what_to_do() {
    let err = Path::parse("$.metadata.labels.app.kubernetes.io/name").expect_err("unquoted key");
    let msg = err.to_string();
    assert!(msg.contains("at character 35") && msg.contains("['my-key']"), "{msg}");
    let err = Path::parse("spec").expect_err("no $");
    assert!(err.to_string().contains("must start with `$`"), "{err}");
}

#[test]
fn definiteness() {
    let table = [
        ("$", true),
        ("$.a.0['b','c'][1,2][3:4][3:4:1]", true),
        ("$.a[3:5]", false),
        ("$.a[3:4:2]", false),
        ("$.a[3:]", false),
        ("$.a.*", false),
        ("$..a", false),
    ];
    for (text, want) in table {
        let path = Path::parse(text).expect(text);
        assert_eq!(path.is_definite(), want, "{text}");
    }
}

/// One `set` case: document, path, value, expected document, places set.
type Case = (Value, &'static str, Value, Value, usize);

fn run(table: Vec<Case>) {
    for (mut doc, text, new, want, count) in table {
        let before = doc.clone();
        let path = Path::parse(text).expect(text);
        let got = set(&mut doc, &path, new);
        assert_eq!(doc, want, "setting {text} in {before}");
        assert_eq!(got, count, "places set by {text} in {before}");
    }
}

#[test]
fn set_names_and_indexes() {
    let deployment = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "ENV", "value": "dev"}]},
        {"name": "sidecar"}
    ]}}}});
    let mut with_env = deployment.clone();
    with_env["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("env is prod");
    run(vec![
        (
            deployment.clone(),
            "$.spec.replicas",
            json!(3),
            json!({"spec": {"replicas": 3, "template": deployment["spec"]["template"]}}),
            1,
        ),
        (
            deployment.clone(),
            "$.spec.template.spec.containers.0.env.0.value",
            json!("env is prod"),
            with_env.clone(),
            1,
        ),
        (deployment.clone(), "$.spec.template.spec.containers[0].env[0]['value']", json!("env is prod"), with_env, 1),
        // the whole value
        (json!({"a": 1}), "$", json!({"b": 2}), json!({"b": 2}), 1),
        // an index past the end selects nothing: arrays never grow
        (json!({"a": [1, 2]}), "$.a.2", json!(9), json!({"a": [1, 2]}), 0),
        (json!({"a": [1, 2]}), "$.a[5].x", json!(9), json!({"a": [1, 2]}), 0),
        // a name on an array, an index on an object, anything on a scalar: nothing
        (json!({"a": [1]}), "$.a.x", json!(9), json!({"a": [1]}), 0),
        (json!({"a": {"0": 1}}), "$.a.0", json!(9), json!({"a": {"0": 1}}), 0),
        (json!({"a": "s"}), "$.a.x", json!(9), json!({"a": "s"}), 0),
        // an existing null leaf is replaced
        (json!({"a": null}), "$.a", json!(1), json!({"a": 1}), 1),
        // lists
        (json!([0, 1, 2, 3]), "$[0,2]", json!("x"), json!(["x", 1, "x", 3]), 2),
        (json!([0, 1]), "$[0,0,5]", json!("x"), json!(["x", 1]), 1),
        (json!({"a": 1, "b": 2, "c": 3}), "$['a','c']", json!(0), json!({"a": 0, "b": 2, "c": 0}), 2),
    ]);
}

#[test]
fn set_creates_missing_members_on_definite_paths() {
    run(vec![
        // a missing last member (KubeStellar does this too)
        (json!({"spec": {}}), "$.spec.replicas", json!(2), json!({"spec": {"replicas": 2}}), 1),
        // a missing chain of members (KubeStellar would store null at `selector`)
        (
            json!({"spec": {}}),
            "$.spec.selector.matchLabels.tier",
            json!("web"),
            json!({"spec": {"selector": {"matchLabels": {"tier": "web"}}}}),
            1,
        ),
        // a null member on the way counts as missing
        (
            json!({"metadata": {"labels": null}}),
            "$.metadata.labels.a",
            json!("b"),
            json!({"metadata": {"labels": {"a": "b"}}}),
            1,
        ),
        // under an existing array element, and under one-element slices
        (
            json!([{"ab": 1}, {"ab": 2}, {"ab": 3}]),
            "$[2].xy",
            json!(47),
            json!([{"ab": 1}, {"ab": 2}, {"ab": 3, "xy": 47}]),
            1,
        ),
        (
            json!([{"ab": 1}, {"ab": 2}, {"ab": 3}]),
            "$[2:3].xy",
            json!(47),
            json!([{"ab": 1}, {"ab": 2}, {"ab": 3, "xy": 47}]),
            1,
        ),
        // a list of names creates each, under one created parent
        (json!({}), "$.a['x','y']", json!(1), json!({"a": {"x": 1, "y": 1}}), 2),
        // missing member then an index: arrays are never created
        (json!({}), "$.a.0", json!(1), json!({}), 0),
        (json!({}), "$.a.*", json!(1), json!({}), 0),
        // a wider slice is not definite: existing members only (KubeStellar's eval test)
        (json!([{"ab": 1}, {"ab": 2}, {"ab": 3}]), "$[1:3].ab", json!(0), json!([{"ab": 1}, {"ab": 0}, {"ab": 0}]), 2),
        (
            json!([{"ab": 1}, {"xy": 2}, {"ab": 3}]),
            "$[0:3:2].xy",
            json!(0),
            json!([{"ab": 1}, {"xy": 2}, {"ab": 3}]),
            0,
        ),
        // on a scalar root nothing can be created
        (json!(3), "$.a", json!(1), json!(3), 0),
    ]);
}

#[test]
fn set_with_wildcards_slices_and_descent() {
    let kubestellar_doc = json!({"abc": {"abc": {"def": 3, "ghi": 4}}, "def": ["a", "b", "c", "d", "e"]});
    run(vec![
        // KubeStellar's own eval tests
        (kubestellar_doc.clone(), "$..def", json!(47), json!({"abc": {"abc": {"def": 47, "ghi": 4}}, "def": 47}), 2),
        (kubestellar_doc.clone(), "$..abc", json!(47), json!({"abc": 47, "def": ["a", "b", "c", "d", "e"]}), 1),
        (
            kubestellar_doc.clone(),
            "$.def[1:2]",
            json!(47),
            json!({"abc": {"abc": {"def": 3, "ghi": 4}}, "def": ["a", 47, "c", "d", "e"]}),
            1,
        ),
        (
            kubestellar_doc,
            "$.def[2::2]",
            json!(47),
            json!({"abc": {"abc": {"def": 3, "ghi": 4}}, "def": ["a", "b", 47, "d", 47]}),
            2,
        ),
        (
            json!([{"ab": 1}, {"ab": 2}, {"ab": 3}, {"ab": 4}, {"ab": 5}]),
            "$[2::2].ab",
            json!(47),
            json!([{"ab": 1}, {"ab": 2}, {"ab": 47}, {"ab": 4}, {"ab": 47}]),
            2,
        ),
        // slice ends past the array are clipped; an empty slice selects nothing
        (json!([0, 1, 2]), "$[1:99]", json!(9), json!([0, 9, 9]), 2),
        (json!([0, 1, 2]), "$[2:1]", json!(9), json!([0, 1, 2]), 0),
        // every child of an array or object; after `*` nothing is created
        (
            json!({"c": [{"image": "a"}, {"image": "b", "x": 1}]}),
            "$.c.*.image",
            json!("z"),
            json!({"c": [{"image": "z"}, {"image": "z", "x": 1}]}),
            2,
        ),
        (
            json!({"c": [{"image": "a"}, {"x": 1}]}),
            "$.c[*].image",
            json!("z"),
            json!({"c": [{"image": "z"}, {"x": 1}]}),
            1,
        ),
        (json!({"a": 1, "b": 2}), "$.*", json!(0), json!({"a": 0, "b": 0}), 2),
        // every image in a pod template, wherever it is
        (
            json!({"spec": {"initContainers": [{"image": "i"}], "containers": [{"image": "a"}, {"name": "b"}]}}),
            "$..image",
            json!("mirror/x"),
            json!({"spec": {"initContainers": [{"image": "mirror/x"}], "containers": [{"image": "mirror/x"}, {"name": "b"}]}}),
            2,
        ),
        // `..*` replaces every child; the ones under a replaced parent are gone
        (json!({"a": {"b": 1}, "c": [2]}), "$..*", json!(0), json!({"a": 0, "c": 0}), 2),
        // a replacement that contains its own match is not searched again
        (json!({"a": 1}), "$..a", json!({"a": 2}), json!({"a": {"a": 2}}), 1),
        // a second `..` finds the same places once
        (json!({"x": {"a": 1}}), "$....a", json!(0), json!({"x": {"a": 0}}), 1),
    ]);
}
