//! Property tests of the Path Name parser and printer:
//!
//! * no input panics: arbitrary strings, strings built from the grammar's
//!   tokens (which get past the first few bytes), and one-character edits of
//!   valid paths (which reach every error branch deep inside a path);
//! * whatever parses prints as text that parses to the same AST;
//! * every AST the grammar can produce survives print → parse unchanged,
//!   and its printed text is canonical: print(parse(s)) == s.

use proptest::prelude::*;
use usp_endpoint::path::{
    Constant, Expr, Leaf, Op, Path, PathError, RefItem, RelPath, Segment, Selector, Term,
};
use usp_proto::ErrCode;

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,7}"
}

fn ref_item() -> impl Strategy<Value = RefItem> {
    prop_oneof![Just(RefItem::First), (1..=u32::MAX).prop_map(RefItem::Index), Just(RefItem::All)]
}

fn rel_path() -> impl Strategy<Value = RelPath> {
    let object = prop_oneof![
        name().prop_map(Segment::Name),
        (name(), ref_item()).prop_map(|(name, item)| Segment::Reference { name, item }),
    ];
    (prop::collection::vec(object, 0..3), name()).prop_map(|(objects, param)| RelPath { objects, param })
}

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(vec![Op::Eq, Op::Ne, Op::Contains, Op::Lt, Op::Gt, Op::Le, Op::Ge])
}

fn constant() -> impl Strategy<Value = Constant> {
    prop_oneof![
        any::<String>().prop_map(Constant::Quoted),
        // Any quoted text, weighted towards the characters that need care.
        "[\"%a-z.\\[\\]&|+#*{} ]{0,12}".prop_map(Constant::Quoted),
        // Unquoted tokens: anything but ASCII whitespace/control, `"&|[]`,
        // not starting with an operator character.
        "[^\\x00-\\x20\\x7f\"&|\\[\\]=<>!~][^\\x00-\\x20\\x7f\"&|\\[\\]]{0,11}".prop_map(Constant::Bare),
        "-?[0-9]{1,4}(\\.[0-9]{1,3})?".prop_map(Constant::Bare),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let term = (rel_path(), op(), constant()).prop_map(|(param, op, value)| Term { param, op, value });
    prop::collection::vec(term, 1..4).prop_map(|terms| Expr { terms })
}

/// One step of an object part after the root: a name, optionally followed
/// by an instance selector, or a reference hop.
#[derive(Debug, Clone)]
enum Step {
    Name(String, Option<Selector>),
    Reference(String, RefItem),
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        Just(Leaf::Object),
        name().prop_map(Leaf::Param),
        name().prop_map(Leaf::Command),
        name().prop_map(Leaf::Event),
    ]
}

fn path_from(root: String, steps: Vec<Step>, leaf: Leaf) -> Path {
    let mut segments = vec![Segment::Name(root)];
    for step in steps {
        match step {
            Step::Name(name, selector) => {
                segments.push(Segment::Name(name));
                segments.extend(selector.map(Segment::Instance));
            }
            Step::Reference(name, item) => segments.push(Segment::Reference { name, item }),
        }
    }
    Path { segments, leaf }
}

/// Any AST the instantiated grammar can produce.
fn instantiated_path() -> impl Strategy<Value = Path> {
    let selector = prop_oneof![
        (1..=u32::MAX).prop_map(Selector::Number),
        Just(Selector::Wildcard),
        expr().prop_map(Selector::Search),
    ];
    let step = prop_oneof![
        3 => (name(), prop::option::of(selector)).prop_map(|(n, s)| Step::Name(n, s)),
        1 => (name(), ref_item()).prop_map(|(n, i)| Step::Reference(n, i)),
    ];
    (name(), prop::collection::vec(step, 0..6), leaf())
        .prop_map(|(root, steps, leaf)| path_from(root, steps, leaf))
}

/// Any AST the Supported-DM grammar can produce.
fn supported_path() -> impl Strategy<Value = Path> {
    let selector = prop_oneof![(1..=u32::MAX).prop_map(Selector::Number), Just(Selector::AnyInstance)];
    let step = (name(), prop::option::of(selector)).prop_map(|(n, s)| Step::Name(n, s));
    (name(), prop::collection::vec(step, 0..6), leaf())
        .prop_map(|(root, steps, leaf)| path_from(root, steps, leaf))
}

/// Strings made of the grammar's tokens, in any order.
fn grammar_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "Device",
        ".",
        "IoTCapability",
        "Name",
        "1",
        "42",
        "0",
        "01",
        "*",
        "[",
        "]",
        "==",
        "!=",
        "~=",
        "<",
        ">",
        "<=",
        ">=",
        "=",
        "&&",
        "&",
        "||",
        "\"",
        "\"x\"",
        "%22",
        "%25",
        "%",
        "+",
        "#",
        "#2",
        "#*",
        "{i}",
        "{",
        "}",
        "()",
        "(",
        ")",
        "!",
        " ",
        "-",
        "2021-06-06T08:00:00Z",
        "20.5",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

/// A valid path's text with one character deleted, replaced or inserted.
fn mutated_path() -> impl Strategy<Value = String> {
    let edit_char = prop::sample::select(vec![
        '.', '[', ']', '"', '=', '&', '+', '#', '*', '{', '}', '(', ')', '!', '0', ' ', 'a',
    ]);
    (instantiated_path(), any::<prop::sample::Index>(), 0..3u8, edit_char).prop_map(|(path, at, edit, c)| {
        let mut chars: Vec<char> = path.to_string().chars().collect();
        let i = at.index(chars.len() + 1);
        match edit {
            0 if i < chars.len() => {
                chars.remove(i);
            }
            1 if i < chars.len() => chars[i] = c,
            _ => chars.insert(i, c),
        }
        chars.into_iter().collect()
    })
}

type Parser = fn(&str) -> Result<Path, PathError>;

/// The checks every input gets: no panic (implicit), errors inside the
/// input and 7008, and successful parses stable under print → parse.
fn check_any_input(src: &str) -> Result<(), TestCaseError> {
    let parsers: [(&str, Parser); 3] = [
        ("instantiated", Path::parse),
        ("supported", Path::parse_supported),
        ("registration", Path::parse_registration),
    ];
    for (dialect, parse) in parsers {
        match parse(src) {
            Ok(path) => {
                let printed = path.to_string();
                let reparsed = parse(&printed);
                prop_assert_eq!(reparsed, Ok(path), "{} {:?} → {:?}", dialect, src, printed);
            }
            Err(e) => {
                prop_assert!(e.offset() <= src.len(), "{} {:?}: offset {}", dialect, src, e.offset());
                prop_assert!(src.is_char_boundary(e.offset()));
                prop_assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
            }
        }
    }
    match RelPath::parse(src) {
        Ok(rel) => prop_assert_eq!(RelPath::parse(&rel.to_string()), Ok(rel)),
        Err(e) => prop_assert!(e.offset() <= src.len()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        check_any_input(&src)?;
    }

    #[test]
    fn grammar_token_soup_never_panics(src in grammar_soup()) {
        check_any_input(&src)?;
    }

    #[test]
    fn edited_valid_paths_never_panic(src in mutated_path()) {
        check_any_input(&src)?;
    }

    #[test]
    fn instantiated_asts_round_trip(path in instantiated_path()) {
        let text = path.to_string();
        let parsed = Path::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&path), "{}", text);
        prop_assert_eq!(parsed.map(|p| p.to_string()), Ok(text));
    }

    #[test]
    fn supported_asts_round_trip(path in supported_path()) {
        let text = path.to_string();
        let parsed = Path::parse_supported(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&path), "{}", text);
        prop_assert_eq!(parsed.map(|p| p.to_string()), Ok(text.clone()));
        // The supported form of a supported path is the path with every
        // number turned into `{i}`, and is itself a valid supported path.
        let form = path.supported_form().expect("no references in supported paths");
        let reparsed = Path::parse_supported(&form).expect("supported form parses");
        prop_assert!(reparsed.segments.iter().all(|s| !matches!(s, Segment::Instance(Selector::Number(_)))));
        prop_assert_eq!(reparsed.segments.len(), path.segments.len());
    }

    #[test]
    fn whitespace_around_expression_tokens_is_ignored(path in instantiated_path()) {
        // Re-print every search expression with spaces around each operator
        // and `&&`, and inside the brackets: the AST must not change.
        let mut spaced = String::new();
        for segment in &path.segments {
            match segment {
                Segment::Instance(Selector::Search(expr)) => {
                    spaced.push_str("[ ");
                    for (i, t) in expr.terms.iter().enumerate() {
                        if i > 0 {
                            spaced.push_str(" \t&& ");
                        }
                        spaced.push_str(&format!("{} {} {}", t.param, t.op, t.value));
                    }
                    spaced.push_str(" ]");
                }
                other => spaced.push_str(&other.to_string()),
            }
            spaced.push('.');
        }
        let tail = Path { segments: Vec::new(), leaf: path.leaf.clone() }.to_string();
        spaced.push_str(&tail);
        prop_assert_eq!(Path::parse(&spaced), Ok(path), "{}", spaced);
    }

    #[test]
    fn rel_paths_round_trip(objects in prop::collection::vec(name(), 0..4), param in name()) {
        let rel = RelPath { objects: objects.into_iter().map(Segment::Name).collect(), param };
        let text = rel.to_string();
        prop_assert_eq!(RelPath::parse(&text), Ok(rel));
    }
}
