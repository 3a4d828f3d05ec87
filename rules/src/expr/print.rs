//! Writes a condition back as text, in its canonical form: `and`/`or`/`not`
//! keywords, one space around operators, parentheses only where needed.
//! Parsing the printed text gives the same tree (tested by proptest).

use std::fmt::{self, Write};

use super::ast::{Expr, Literal, Operand};

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, 0)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Lit(l) => write!(f, "{l}"),
            Operand::Ref(r) => f.write_str(&r.text()),
            Operand::Group(e) => {
                f.write_char('(')?;
                write_expr(f, e, 0)?;
                f.write_char(')')
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Rust prints finite floats without exponent and with the
            // shortest digits that read back to the same value.
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Str(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Time(t) => write!(f, "{t}"),
        }
    }
}

/// Binding strength: or < and < not < comparison.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Or(_) => 1,
        Expr::And(_) => 2,
        Expr::Not(_) => 3,
        Expr::Compare(..) | Expr::In(..) | Expr::Truthy(_) => 4,
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    let p = precedence(e);
    if p < min {
        f.write_char('(')?;
    }
    match e {
        Expr::Or(items) | Expr::And(items) => {
            let sep = if p == 1 { " or " } else { " and " };
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    f.write_str(sep)?;
                }
                // A nested list of the same kind only comes from explicit
                // parentheses: keep them, so the tree reads back the same.
                write_expr(f, item, p + 1)?;
            }
        }
        Expr::Not(inner) => {
            f.write_str("not ")?;
            write_expr(f, inner, 3)?;
        }
        Expr::Compare(a, op, b) => write!(f, "{a} {} {b}", op.as_str())?,
        Expr::In(a, list) => {
            write!(f, "{a} in [")?;
            for (k, l) in list.iter().enumerate() {
                if k > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{l}")?;
            }
            f.write_char(']')?;
        }
        Expr::Truthy(o) => write!(f, "{o}")?,
    }
    if p < min {
        f.write_char(')')?;
    }
    Ok(())
}
