//! Search expressions: `[param op constant && ...]`.
//!
//! ```text
//! expr      := "[" expr-comp ( "&&" expr-comp )* "]"
//! expr-comp := rel-path oper value
//! oper      := "==" | "!=" | "~=" | "<" | ">" | "<=" | ">="
//! ```
//!
//! Choices where TR-369 leaves room (each tested below):
//!
//! * **Whitespace** (R-ARC.9a, "Agents SHOULD tolerate whitespace around
//!   operators"): ASCII whitespace is skipped after `[`, before and after
//!   each operator and `&&`, and before `]`; never inside a parameter path
//!   or an unquoted constant.
//! * **Unquoted constants** (the first relaxation of `paths.md` §2): any
//!   run of characters other than ASCII whitespace and control characters,
//!   `"`, `&`, `|`, `[` and `]`, not starting with an operator character
//!   (`=<>!~`), kept verbatim for the resolver to type. That covers every
//!   unquoted TR-181 form (integers with sign or leading zeros, decimals,
//!   booleans, dateTime, hexBinary, base64); excluding `&` keeps `&&`
//!   unambiguous, excluding `|` turns `||` into an error rather than part
//!   of a constant, and the first-character rule keeps `[A<==5]` from
//!   meaning `<` against `=5` (which would print as `<=` against `5`).
//! * **Quoted literals**: anything up to the next `"`; `%22` decodes to `"`
//!   and `%25` to `%`, the two escapes TR-369 defines. Any other `%` is
//!   kept as written (a Controller that forgot to escape a `%` still gets
//!   the value it meant). OBUSPA decodes every `%XX` instead; the two only
//!   differ on values a conforming Controller never sends.

use super::ast::{Constant, Expr, Op, Term};
use super::cursor::Cursor;
use super::dialect::Dialect;
use super::error::{Expected, PathError, PathErrorKind};
use super::relative::parse_rel_path;

/// Parses `[...]`; the cursor must be on the `[`.
pub(super) fn parse_expr(c: &mut Cursor<'_>) -> Result<Expr, PathError> {
    let open = c.pos();
    let end = c.len();
    c.advance(1);
    // Any error found at the end of the input inside the brackets means the
    // `[` was never closed; say so, pointing at it.
    parse_terms(c, open).map_err(|e| {
        if e.offset() == end { PathError::new(PathErrorKind::UnterminatedExpression, open) } else { e }
    })
}

fn parse_terms(c: &mut Cursor<'_>, open: usize) -> Result<Expr, PathError> {
    c.skip_ws();
    if c.peek() == Some(b']') {
        return Err(PathError::new(PathErrorKind::EmptyExpression, open));
    }
    let mut terms = Vec::with_capacity(2);
    loop {
        c.skip_ws();
        let param = parse_rel_path(c, Dialect::Instantiated)?;
        c.skip_ws();
        let op = parse_op(c)?;
        c.skip_ws();
        let value = parse_constant(c)?;
        c.skip_ws();
        terms.push(Term { param, op, value });
        match (c.peek(), c.peek2()) {
            (Some(b']'), _) => {
                c.advance(1);
                return Ok(Expr { terms });
            }
            (Some(b'&'), Some(b'&')) => c.advance(2),
            (Some(b'|'), Some(b'|')) => return Err(c.error(PathErrorKind::OrOperator)),
            _ => return Err(c.unexpected(Expected::AndOrClose)),
        }
    }
}

fn parse_op(c: &mut Cursor<'_>) -> Result<Op, PathError> {
    let (op, len) = match (c.peek(), c.peek2()) {
        (Some(b'='), Some(b'=')) => (Op::Eq, 2),
        (Some(b'!'), Some(b'=')) => (Op::Ne, 2),
        (Some(b'~'), Some(b'=')) => (Op::Contains, 2),
        (Some(b'<'), Some(b'=')) => (Op::Le, 2),
        (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
        (Some(b'<'), _) => (Op::Lt, 1),
        (Some(b'>'), _) => (Op::Gt, 1),
        (Some(b'='), _) => return Err(c.error(PathErrorKind::SingleEquals)),
        _ => return Err(c.unexpected(Expected::Operator)),
    };
    c.advance(len);
    Ok(op)
}

fn parse_constant(c: &mut Cursor<'_>) -> Result<Constant, PathError> {
    let start = c.pos();
    if c.peek() == Some(b'"') {
        let Some(len) = c.rest().iter().skip(1).position(|b| *b == b'"') else {
            return Err(c.error(PathErrorKind::UnterminatedLiteral));
        };
        let raw = c.slice(start + 1, start + 1 + len);
        c.advance(len + 2);
        return Ok(Constant::Quoted(decode_literal(raw)));
    }
    if matches!(c.peek(), Some(b'=' | b'<' | b'>' | b'!' | b'~')) {
        return Err(c.unexpected(Expected::Constant));
    }
    let len = c.rest().iter().take_while(|b| !ends_bare_constant(**b)).count();
    if len == 0 {
        return Err(c.error(PathErrorKind::MissingConstant));
    }
    c.advance(len);
    Ok(Constant::Bare(c.slice(start, start + len).to_owned()))
}

/// Bytes that end (and cannot be part of) an unquoted constant.
fn ends_bare_constant(b: u8) -> bool {
    b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'"' | b'&' | b'|' | b'[' | b']')
}

/// Undoes the `%22` / `%25` escapes of a quoted literal.
fn decode_literal(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        if let Some(r) = after.strip_prefix("22") {
            out.push('"');
            rest = r;
        } else if let Some(r) = after.strip_prefix("25") {
            out.push('%');
            rest = r;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{RefItem, RelPath, Segment};

    fn expr(src: &str) -> Expr {
        let mut c = Cursor::new(src);
        let e = parse_expr(&mut c).unwrap();
        assert!(c.at_end(), "{src}: stopped at {}", c.pos());
        e
    }

    fn err(src: &str) -> (PathErrorKind, usize) {
        let e = parse_expr(&mut Cursor::new(src)).unwrap_err();
        (e.kind().clone(), e.offset())
    }

    fn term(param: &str, op: Op, value: Constant) -> Term {
        Term { param: RelPath::parse(param).unwrap(), op, value }
    }

    fn q(s: &str) -> Constant {
        Constant::Quoted(s.to_owned())
    }

    fn b(s: &str) -> Constant {
        Constant::Bare(s.to_owned())
    }

    #[test]
    fn all_seven_operators() {
        for (text, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("~=", Op::Contains),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("<=", Op::Le),
            (">=", Op::Ge),
        ] {
            assert_eq!(expr(&format!("[Value{text}5]")).terms, [term("Value", op, b("5"))], "{text}");
        }
    }

    #[test]
    fn terms_joined_by_and() {
        assert_eq!(
            expr(r#"[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"]"#).terms,
            [
                term("RemoteHost", Op::Eq, q("")),
                term("ExternalPort", Op::Eq, b("0")),
                term("Protocol", Op::Eq, q("TCP")),
            ]
        );
    }

    #[test]
    fn whitespace_around_operators_and_terms_is_tolerated() {
        let spaced = expr("[ Class == \"LevelControl\"\t&&  LevelControl.Value >= 21.5 ]");
        let tight = expr("[Class==\"LevelControl\"&&LevelControl.Value>=21.5]");
        assert_eq!(spaced, tight);
        assert_eq!(tight.terms[1], term("LevelControl.Value", Op::Ge, b("21.5")));
    }

    #[test]
    fn unquoted_constants_of_every_tr181_form() {
        for value in
            ["-5", "+123", "0123", "20.5", "1e3", "true", "0", "2021-06-06T08:00:00Z", "08", "q+/w=="]
        {
            assert_eq!(expr(&format!("[X=={value}]")).terms[0].value, b(value), "{value}");
        }
        // Not a string literal: typing rejects it later, the grammar accepts it.
        assert_eq!(expr("[Name==r101-temp]").terms[0].value, b("r101-temp"));
    }

    #[test]
    fn quoted_literals_decode_only_percent_22_and_25() {
        assert_eq!(expr(r#"[A=="say %22hi%22"]"#).terms[0].value, q("say \"hi\""));
        assert_eq!(expr(r#"[A=="100%25"]"#).terms[0].value, q("100%"));
        assert_eq!(expr(r#"[A=="%2522"]"#).terms[0].value, q("%22"));
        assert_eq!(expr(r#"[A=="50% off %41 %2"]"#).terms[0].value, q("50% off %41 %2"));
        assert_eq!(expr(r#"[A=="]&&[.+#*{i}"]"#).terms[0].value, q("]&&[.+#*{i}"));
        assert_eq!(expr(r#"[A=="café ☕"]"#).terms[0].value, q("café ☕"));
    }

    #[test]
    fn parameters_through_sub_objects_and_references() {
        assert_eq!(
            expr(r#"[SSIDReference+.SSID=="MyHome"&&AssignedRole#*+.Name=="Observer"&&Stats.ErrorsSent>0]"#)
                .terms
                .iter()
                .map(|t| t.param.clone())
                .collect::<Vec<_>>(),
            [
                RelPath {
                    objects: vec![Segment::Reference { name: "SSIDReference".into(), item: RefItem::First }],
                    param: "SSID".into()
                },
                RelPath {
                    objects: vec![Segment::Reference { name: "AssignedRole".into(), item: RefItem::All }],
                    param: "Name".into()
                },
                RelPath { objects: vec![Segment::Name("Stats".into())], param: "ErrorsSent".into() },
            ]
        );
    }

    #[test]
    fn invalid_expressions() {
        use PathErrorKind as K;
        let unexpected = |found, expected| K::Unexpected { found, expected };
        assert_eq!(err("[]"), (K::EmptyExpression, 0));
        assert_eq!(err("[  ]"), (K::EmptyExpression, 0));
        assert_eq!(err(r#"[Name="x"]"#), (K::SingleEquals, 5));
        assert_eq!(err(r#"[Name = = "x"]"#), (K::SingleEquals, 6));
        assert_eq!(err("[A==1||B==2]"), (K::OrOperator, 5));
        assert_eq!(err("[A==1 || B==2]"), (K::OrOperator, 6));
        assert_eq!(err("[A==1|B==2]"), (unexpected(Some('|'), Expected::AndOrClose), 5));
        assert_eq!(err("[A==1&B==2]"), (unexpected(Some('&'), Expected::AndOrClose), 5));
        assert_eq!(err("[A==1 2]"), (unexpected(Some('2'), Expected::AndOrClose), 6));
        assert_eq!(err(r#"[A=="x"y]"#), (unexpected(Some('y'), Expected::AndOrClose), 7));
        assert_eq!(err("[A==]"), (K::MissingConstant, 4));
        assert_eq!(err("[A==&&B==1]"), (K::MissingConstant, 4));
        assert_eq!(err("[A==1&&]"), (K::ExpectedName { found: Some(']') }, 7));
        assert_eq!(err("[A]"), (unexpected(Some(']'), Expected::Operator), 2));
        assert_eq!(err("[A!5]"), (unexpected(Some('!'), Expected::Operator), 2));
        assert_eq!(err("[A B==1]"), (unexpected(Some('B'), Expected::Operator), 3));
        assert_eq!(err("[==1]"), (K::ExpectedName { found: Some('=') }, 1));
        assert_eq!(err("[2G==1]"), (K::NameStartsWithDigit, 1));
        assert_eq!(err("[Stats.==1]"), (K::ExpectedName { found: Some('=') }, 7));
        assert_eq!(err("[Stats.1.X==1]"), (K::NameStartsWithDigit, 7));
        assert_eq!(err("[Ref+==1]"), (unexpected(Some('='), Expected::Dot), 5));
        assert_eq!(err("[Ref#0+.X==1]"), (K::ZeroNumber, 5));
        assert_eq!(err("[Stats . X==1]"), (unexpected(Some('.'), Expected::Operator), 7));
        assert_eq!(err("[A==\u{1}]"), (K::MissingConstant, 4));
        for (src, found) in
            [("[A<==5]", '='), ("[A===5]", '='), ("[A==<5]", '<'), ("[A>>5]", '>'), ("[A==!x]", '!')]
        {
            let at = src.rfind(found).unwrap();
            assert_eq!(err(src), (unexpected(Some(found), Expected::Constant), at), "{src}");
        }
    }

    #[test]
    fn unclosed_brackets_and_quotes_point_at_the_opener() {
        use PathErrorKind as K;
        for src in
            ["[", "[ ", "[Name", "[Name==", "[Name==\"x\"", "[Name==1&&", "[Name==1 ", "[Stats.", "[R#"]
        {
            assert_eq!(err(src), (K::UnterminatedExpression, 0), "{src:?}");
        }
        assert_eq!(err(r#"[Name=="x]"#), (K::UnterminatedLiteral, 7));
        assert_eq!(err(r#"[Name=="x"&&Class=="y]"#), (K::UnterminatedLiteral, 19));
    }

    #[test]
    fn literal_decoding() {
        assert_eq!(decode_literal(""), "");
        assert_eq!(decode_literal("%"), "%");
        assert_eq!(decode_literal("%2"), "%2");
        assert_eq!(decode_literal("%%22"), "%\"");
        assert_eq!(decode_literal("%25%22%25"), "%\"%");
        assert_eq!(decode_literal("a%252b"), "a%2b");
    }
}
