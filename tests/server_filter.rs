//! Subscribe filter expressions (`filter-expr`) as the dev server evaluates
//! them: which messages a filter keeps, which expressions it rejects and
//! where, and that neither parsing nor matching can panic.

use proptest::prelude::*;
use pubnub_rx::server::filter::{
    FilterContext, FilterError, FilterExpr, MAX_EXPRESSION_LEN, MAX_NESTING,
};
use serde_json::{json, Value};

/// A published message as a filter sees it.
struct Message {
    meta: Option<Value>,
    data: Option<Value>,
    publisher: Option<&'static str>,
}

impl Message {
    fn ctx(&self) -> FilterContext<'_> {
        FilterContext {
            meta: self.meta.as_ref(),
            data: self.data.as_ref(),
            publisher: self.publisher,
            channel: "chat",
        }
    }
}

/// Rich meta and payload, published by `alice` (whose meta also says `uuid`).
fn rich() -> Message {
    Message {
        meta: Some(json!({
            "region": "eu",
            "level": 5,
            "score": 4.5,
            "flag": true,
            "uuid": "meta-user",
            "user": {"role": "admin", "name": "Anne", "tags": ["vip", "beta"]},
            "odd key": "x y",
            "nothing": null,
            "five": "5",
            "like": "kw",
            "star": "match*",
            "big": 9_007_199_254_740_993_u64,
            "path": "a\\b",
            "quote": "it's",
            "room": "room-42",
        })),
        data: Some(json!({
            "text": "Hello World",
            "score": 93,
            "tags": ["a", "b"],
            "nested": {"deep": {"value": -2}},
            "items": [{"id": 1}, {"id": 2}],
        })),
        publisher: Some("alice"),
    }
}

/// No meta at all, a string payload (like a typical signal), from `bob`.
fn bare() -> Message {
    Message {
        meta: None,
        data: Some(json!("plain text")),
        publisher: Some("bob"),
    }
}

/// Meta without `uuid`, and no publisher id.
fn anonymous() -> Message {
    Message {
        meta: Some(json!({"language": "english"})),
        data: Some(json!({"n": 1})),
        publisher: None,
    }
}

/// Builds the message a case runs against.
type Fixture = fn() -> Message;

#[rustfmt::skip]
const CASES: &[(&str, Fixture, bool)] = &[
    // equality: strings exact, numbers numeric, no cross-type matches
    ("meta.region == 'eu'", rich, true),
    (r#"meta.region == "eu""#, rich, true),
    ("meta.region == 'EU'", rich, false),
    ("meta.region != 'us'", rich, true),
    ("meta.region != 'eu'", rich, false),
    ("meta.level == 5", rich, true),
    ("meta.level == 5.0", rich, true),
    ("meta.five == 5", rich, false),
    ("meta.five != 5", rich, false),
    ("meta.flag == true", rich, true),
    ("meta.flag == TRUE", rich, true),
    ("meta.flag != false", rich, true),
    ("meta.flag == 'true'", rich, false),
    // ordering
    ("meta.level > 4", rich, true),
    ("meta.level >= 5", rich, true),
    ("meta.level < 5", rich, false),
    ("meta.level <= 5", rich, true),
    ("meta.score < 4.6", rich, true),
    ("meta.score > -1", rich, true),
    ("data.nested.deep.value < -1", rich, true),
    ("data.nested.deep.value == -2", rich, true),
    ("meta.region < 'fr'", rich, true),
    ("meta.five > 4", rich, false),
    ("meta.big > 9007199254740992", rich, true),
    // missing fields: every comparison is false, `!=` included
    ("meta.missing == 'x'", rich, false),
    ("meta.missing != 'x'", rich, false),
    ("!(meta.missing == 'x')", rich, true),
    ("meta.nothing != 'x'", rich, false),
    ("meta.region.sub == 'x'", rich, false),
    ("meta.level > 1", bare, false),
    ("data.text == 'plain text'", bare, false),
    ("data.length > 0", bare, false),
    // LIKE: whole string, case-insensitive, `*` anywhere, `\*` literal
    ("meta.user.name LIKE 'ann*'", rich, true),
    ("meta.user.name like 'ANN*'", rich, true),
    ("meta.user.name LiKe '*nn*'", rich, true),
    ("meta.user.name LIKE 'ann'", rich, false),
    (r"meta.star LIKE 'match\*'", rich, true),
    (r"meta.user.name LIKE 'Ann\*'", rich, false),
    ("('Anne','anna','Ann') LIKE 'ann*'", rich, true),
    ("('Bob','Carl') LIKE 'ann*'", rich, false),
    ("meta.user.tags LIKE 'V*'", rich, true),
    ("meta.level LIKE '5'", rich, false),
    // CONTAINS: substring, set / array membership, numbers as decimal text
    ("data.text CONTAINS 'World'", rich, true),
    ("data.text contains 'world'", rich, false),
    ("('eu','us') contains meta.region", rich, true),
    ("('a','b','c') CONTAINS meta.region", rich, false),
    ("(3,5,9) contains meta.level", rich, true),
    ("!((3,5,9) contains meta.level)", rich, false),
    ("(3,4) CONTAINS meta.level", rich, false),
    ("data.tags CONTAINS 'b'", rich, true),
    ("meta.user.tags CONTAINS 'gamma'", rich, false),
    ("meta.room CONTAINS 42", rich, true),
    ("meta.room CONTAINS 4.2", rich, false),
    ("('1','2') CONTAINS 1", rich, false),
    // logic and precedence: ! > comparison > && > ||
    ("meta.region == 'eu' && meta.level > 3", rich, true),
    ("meta.region == 'eu' && meta.level > 9", rich, false),
    ("meta.region == 'us' || meta.level > 3", rich, true),
    ("meta.region == 'us' || meta.level > 9", rich, false),
    ("meta.region == 'us' && meta.level > 9 || meta.flag == true", rich, true),
    ("meta.flag == true || meta.region == 'us' && meta.level > 9", rich, true),
    ("(meta.flag == true || meta.region == 'us') && meta.level > 9", rich, false),
    ("!(meta.region == 'eu') || !(meta.level == 5)", rich, false),
    ("!!(meta.region == 'eu')", rich, true),
    ("((meta.region == 'eu'))", rich, true),
    // quoting, odd keys, nested paths, arrays
    (r#"meta["odd key"] == 'x y'"#, rich, true),
    (r#"meta['odd key'] == "x y""#, rich, true),
    (r#"meta.user["role"] == 'admin'"#, rich, true),
    ("meta.user['tags'][1] == 'beta'", rich, true),
    ("meta.user.tags.0 == 'vip'", rich, true),
    ("data.items[1].id == 2", rich, true),
    (r"meta.path == 'a\\b'", rich, true),
    (r"meta.quote == 'it\'s'", rich, true),
    (r#"meta.quote == "it's""#, rich, true),
    // bare identifiers read meta; `uuid`/`publisher` fall back to the publisher
    ("region == 'eu'", rich, true),
    ("user.role == 'admin'", rich, true),
    ("like == 'kw'", rich, true),
    ("meta.like LIKE 'K*'", rich, true),
    ("uuid == 'meta-user'", rich, true),
    ("uuid != 'alice'", rich, true),
    ("uuid != 'bob'", bare, false),
    ("uuid != 'me'", bare, true),
    ("publisher == 'bob'", bare, true),
    ("uuid == 'x'", anonymous, false),
    ("uuid != 'x'", anonymous, false),
    // a bare word on the right that is no meta key is a string
    ("language != spanish", anonymous, true),
    ("language == english", anonymous, true),
    ("language == spanish", anonymous, false),
    ("spanish == language", anonymous, false),
    // arithmetic (older spec)
    ("meta.level + 2 == 7", rich, true),
    ("meta.level * 2 - 1 == 9", rich, true),
    ("meta.level - 1 - 1 == 3", rich, true),
    ("data.score > (meta.level + 80)", rich, true),
    ("meta.level / 2 == 2.5", rich, true),
    ("meta.level / 0 == 1", rich, false),
    ("(meta.level & 4) == 4", rich, true),
    ("meta.level | 2 == 7", rich, true),
    ("meta.level ^ 1 == 4", rich, true),
    ("~meta.level == -6", rich, true),
    ("-meta.level == -5", rich, true),
    ("meta.region + 1 == 2", rich, false),
    // whitespace is free
    ("  meta.level>=5&&meta.region=='eu'  ", rich, true),
    ("meta . level == 5", rich, true),
];

#[test]
fn expressions_select_the_expected_messages() {
    let mut failures = Vec::new();
    for (source, message, expected) in CASES {
        let message = message();
        match FilterExpr::parse(source) {
            Ok(filter) if filter.matches(&message.ctx()) == *expected => {}
            Ok(_) => failures.push(format!("{source:?} should be {expected}")),
            Err(error) => failures.push(format!("{source:?} failed to parse: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(CASES.len() >= 40);
}

fn error_of(source: &str) -> FilterError {
    match FilterExpr::parse(source) {
        Ok(filter) => panic!("{source:?} parsed as {filter:?}"),
        Err(error) => error,
    }
}

#[rustfmt::skip]
const MALFORMED: &[(&str, usize)] = &[
    ("", 0),
    ("   ", 0),
    ("meta.region ==", 14),
    ("== 'eu'", 0),
    ("meta.region = 'eu'", 12),
    ("meta.region == 'eu", 15),
    ("(meta.a == 1", 12),
    ("meta.a == 1)", 11),
    ("meta.a", 6),
    ("meta.", 5),
    ("meta", 4),
    ("data == 1", 5),
    ("meta.a == 1 &&", 14),
    ("!meta.a == 1", 0),
    ("meta.a == 1 == 2", 12),
    ("meta.a @ 1", 7),
    ("meta.a == 1e", 10),
    ("('a','b') == 'a'", 0),
    ("meta.a LIKE ('a','b')", 12),
    ("meta.a == 'x' && 5", 17),
    ("meta.a == ()", 11),
    ("&& meta.a == 1", 0),
    ("meta[1x] == 1", 5),
    ("meta['a' == 1", 9),
    ("meta.a == 'x' || ", 17),
    ("meta.a contains", 15),
    ("meta.a == 'a' + 1", 10),
    ("meta.a == -'x'", 11),
    ("meta.a === 1", 9),
    ("meta.a == 1 meta.b == 2", 12),
    ("meta.a LIKE 'x' LIKE 'y'", 16),
    (r#"meta.a == "\u12""#, 11),
    ("(meta.a == 1) + 1 > 0", 0),
    ("meta.a.b.1.5 == 1", 9),
    ("~1.5 == 1", 0),
    ("meta.a == ('a',)", 15),
    ("meta.a == ((1,2),3)", 11),
    ("meta.a == 1 || (meta.b == 2", 27),
    ("meta.a == true && 'x'", 18),
];

#[test]
fn malformed_expressions_report_where() {
    let mut failures = Vec::new();
    for &(source, position) in MALFORMED {
        match FilterExpr::parse(source) {
            Ok(filter) => failures.push(format!("{source:?} parsed as {filter:?}")),
            Err(error) if error.position == position && !error.message.is_empty() => {}
            Err(error) => failures.push(format!(
                "{source:?}: expected position {position}, got {} ({})",
                error.position, error.message
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_messages_say_what_to_do() {
    let error = error_of("meta.region = 'eu'");
    assert!(error.message.contains("=="), "{error}");
    assert_eq!(
        error.to_string(),
        format!("invalid filter expression at byte 12: {}", error.message)
    );
    assert!(error_of("!meta.a == 1").message.contains("!(meta.a == 1)"));
    assert!(error_of("meta.a == 1 == 2").message.contains("chained"));
}

#[test]
fn nesting_is_bounded() {
    let nested = |levels: usize| format!("{}meta.a == 1{}", "(".repeat(levels), ")".repeat(levels));
    let message = Message {
        meta: Some(json!({"a": 1})),
        data: None,
        publisher: None,
    };
    let deepest = FilterExpr::parse(&nested(MAX_NESTING)).expect("64 levels are allowed");
    assert!(deepest.matches(&message.ctx()));
    assert_eq!(error_of(&nested(MAX_NESTING + 1)).position, MAX_NESTING);

    let negations = |count: usize| format!("{}(meta.a == 1)", "!".repeat(count));
    assert!(FilterExpr::parse(&negations(MAX_NESTING - 2)).is_ok());
    // 64 `!` fill the nesting budget, so the `(` after them is one too many.
    assert_eq!(error_of(&negations(MAX_NESTING)).position, MAX_NESTING);
    assert!(error_of(&"(".repeat(3000)).message.contains("deeper"));
    assert!(error_of(&"-".repeat(3000)).message.contains("deeper"));

    // A left-nested arithmetic chain counts as tree height.
    let chain = |terms: usize| format!("meta.a == 1{}", "+1".repeat(terms));
    assert!(FilterExpr::parse(&chain(MAX_NESTING - 2)).is_ok());
    assert_eq!(error_of(&chain(MAX_NESTING - 1)).position, 7);
}

#[test]
fn long_and_chains_are_flat_not_deep() {
    let mut terms = vec!["a == 1"; 350];
    terms.push("b == 2");
    let source = terms.join(" && ");
    assert!(source.len() < MAX_EXPRESSION_LEN);
    let filter = FilterExpr::parse(&source).expect("a flat chain of 351 terms is fine");
    let with_b = |b: i64| Message {
        meta: Some(json!({"a": 1, "b": b})),
        data: None,
        publisher: None,
    };
    assert!(filter.matches(&with_b(2).ctx()));
    assert!(!filter.matches(&with_b(3).ctx()));
}

#[test]
fn length_is_bounded() {
    let padded = |len: usize| {
        let core = "meta.a == 'x'";
        format!("{core}{}", " ".repeat(len - core.len()))
    };
    assert!(FilterExpr::parse(&padded(MAX_EXPRESSION_LEN)).is_ok());
    let error = error_of(&padded(MAX_EXPRESSION_LEN + 1));
    assert_eq!(error.position, MAX_EXPRESSION_LEN);
    assert!(error.message.contains("4097"), "{error}");
}

#[test]
fn keeps_the_source_text() {
    let filter = FilterExpr::parse("uuid != 'me'").expect("valid");
    assert_eq!(filter.as_str(), "uuid != 'me'");
    assert_eq!(filter.to_string(), "uuid != 'me'");
}

// ---- properties -------------------------------------------------------------

const KEYS: &[&str] = &["a", "b", "uuid", "0", "odd key"];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-3i64..4).prop_map(Value::from),
        "[aAb*\\\\5 ]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

fn quoted(text: &str, double: bool) -> String {
    let quote = if double { '"' } else { '\'' };
    let escaped = text
        .replace('\\', "\\\\")
        .replace(quote, &format!("\\{quote}"));
    format!("{quote}{escaped}{quote}")
}

fn field() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        prop::sample::select(&["a", "b", "uuid"][..]).prop_map(|key| format!(".{key}")),
        (prop::sample::select(KEYS), any::<bool>())
            .prop_map(|(key, double)| format!("[{}]", quoted(key, double))),
        (0usize..3).prop_map(|index| format!("[{index}]")),
    ];
    (
        prop::sample::select(&["meta", "data", "a", "uuid", "publisher"][..]),
        prop::collection::vec(segment, 0..3),
    )
        .prop_map(|(root, segments)| {
            let segments = segments.concat();
            if segments.is_empty() && (root == "meta" || root == "data") {
                format!("{root}.a")
            } else {
                format!("{root}{segments}")
            }
        })
}

/// Number-valued operands: fields, numbers and arithmetic over them.
fn numeric_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        field(),
        any::<i32>().prop_map(|n| n.to_string()),
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
    ];
    leaf.prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["+", "-", "*", "/", "&", "|", "^"][..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            // `~` on a non-integer literal is a parse error; `| 0` keeps the
            // operand a computed value.
            inner.prop_map(|a| format!("~({a} | 0)")),
        ]
    })
}

fn value_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        numeric_expr(),
        ("[aAb*\\\\5' ]{0,4}", any::<bool>()).prop_map(|(text, double)| quoted(&text, double)),
        prop::sample::select(&["true", "FALSE", "spanish"][..]).prop_map(str::to_owned),
    ]
}

fn condition_expr() -> impl Strategy<Value = String> {
    let set = prop::collection::vec(value_expr(), 1..4).prop_map(|items| items.join(", "));
    let leaf = prop_oneof![
        (
            value_expr(),
            prop::sample::select(
                &["==", "!=", "<", "<=", ">", ">=", "LIKE", "like", "CONTAINS", "contains"][..]
            ),
            value_expr()
        )
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (
            set,
            prop::sample::select(&["LIKE", "CONTAINS"][..]),
            value_expr()
        )
            .prop_map(|(items, op, b)| format!("({items}) {op} {b}")),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// Fragments that exercise every lexer and parser path when glued together.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "meta",
            "data",
            "uuid",
            ".",
            "a",
            "[",
            "]",
            "(",
            ")",
            ",",
            "0",
            "1.5",
            "-",
            "~",
            "!",
            "==",
            "!=",
            "<",
            ">=",
            "&&",
            "||",
            "&",
            "|",
            "^",
            "+",
            "*",
            "/",
            "LIKE",
            "contains",
            "'x*'",
            "\"y\"",
            "'\\",
            "\\u",
            "true",
            " ",
            "=",
            "é",
            "1e",
            "9999999999999999999999",
        ][..],
    );
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn message() -> impl Strategy<Value = (Option<Value>, Option<Value>, Option<String>)> {
    (
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of("[a-z]{0,3}"),
    )
}

fn context<'a>(
    meta: &'a Option<Value>,
    data: &'a Option<Value>,
    publisher: &'a Option<String>,
) -> FilterContext<'a> {
    FilterContext {
        meta: meta.as_ref(),
        data: data.as_ref(),
        publisher: publisher.as_deref(),
        channel: "chat",
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(source in any::<String>()) {
        let _ = FilterExpr::parse(&source);
    }

    #[test]
    fn parse_and_match_never_panic_on_token_soup(
        source in token_soup(),
        (meta, data, publisher) in message(),
    ) {
        match FilterExpr::parse(&source) {
            Ok(filter) => {
                let _ = filter.matches(&context(&meta, &data, &publisher));
            }
            Err(error) => prop_assert!(error.position <= source.len()),
        }
    }

    #[test]
    fn generated_expressions_parse_and_compose(
        a in condition_expr(),
        b in condition_expr(),
        (meta, data, publisher) in message(),
    ) {
        let ctx = context(&meta, &data, &publisher);
        let eval = |source: &str| match FilterExpr::parse(source) {
            Ok(filter) => Ok(filter.matches(&ctx)),
            Err(error) => Err(format!("{source:?}: {error}")),
        };
        let (x, y) = (eval(&a), eval(&b));
        prop_assert!(x.is_ok(), "{:?}", x);
        prop_assert!(y.is_ok(), "{:?}", y);
        let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
        prop_assert_eq!(eval(&format!("!({a})")), Ok(!x));
        prop_assert_eq!(eval(&format!("({a}) && ({b})")), Ok(x && y));
        prop_assert_eq!(eval(&format!("({a}) || ({b})")), Ok(x || y));
    }
}
