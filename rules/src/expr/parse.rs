//! Recursive-descent parser for conditions (grammar in [`super`]).

use super::{
    ExprError, ExprErrorKind, MAX_DEPTH, MAX_LEN,
    ast::{Expr, Literal, Operand, Reference},
    lex::{Tok, Token, tokenize},
};
use crate::expr::ast::CmpOp;

/// Parses a condition.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    if text.len() > MAX_LEN {
        return Err(ExprError { at: MAX_LEN, kind: ExprErrorKind::TooLong });
    }
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0, end: text.len() };
    if p.tokens.is_empty() {
        return Err(ExprError { at: 0, kind: ExprErrorKind::Empty });
    }
    let e = p.or(0)?;
    if let Some(t) = p.peek() {
        return Err(ExprError {
            at: t.span.start,
            kind: ExprErrorKind::Unexpected { found: t.kind.describe(), expected: "`and`, `or` or the end" },
        });
    }
    Ok(e)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end: usize,
}

/// What an operand position held: an operand, or a parenthesised
/// condition (which is an operand only if a comparison follows).
enum Primary {
    Operand(Operand),
    Paren(Expr),
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn unexpected(&self, expected: &'static str) -> ExprError {
        match self.peek() {
            Some(t) => ExprError {
                at: t.span.start,
                kind: ExprErrorKind::Unexpected { found: t.kind.describe(), expected },
            },
            None => ExprError { at: self.end, kind: ExprErrorKind::UnexpectedEnd { expected } },
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, ExprError> {
        if depth >= MAX_DEPTH {
            let at = self.peek().map_or(self.end, |t| t.span.start);
            return Err(ExprError { at, kind: ExprErrorKind::TooDeep });
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut items = vec![self.and(depth)?];
        while matches!(self.peek().map(|t| &t.kind), Some(Tok::Or)) {
            self.pos += 1;
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut items = vec![self.unary(depth)?];
        while matches!(self.peek().map(|t| &t.kind), Some(Tok::And)) {
            self.pos += 1;
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if matches!(self.peek().map(|t| &t.kind), Some(Tok::Not)) {
            let depth = self.deeper(depth)?;
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary(depth)?)));
        }
        self.comparison(depth)
    }

    fn comparison(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let lhs = self.primary(depth)?;
        let op = match self.peek().map(|t| &t.kind) {
            Some(Tok::Eq) => Some(CmpOp::Eq),
            Some(Tok::Ne) => Some(CmpOp::Ne),
            Some(Tok::Lt) => Some(CmpOp::Lt),
            Some(Tok::Le) => Some(CmpOp::Le),
            Some(Tok::Gt) => Some(CmpOp::Gt),
            Some(Tok::Ge) => Some(CmpOp::Ge),
            Some(Tok::In) => {
                self.pos += 1;
                let list = self.list()?;
                return Ok(Expr::In(operand(lhs), list));
            }
            _ => None,
        };
        match op {
            Some(op) => {
                self.pos += 1;
                let rhs = self.primary(depth)?;
                Ok(Expr::Compare(operand(lhs), op, operand(rhs)))
            }
            None => Ok(match lhs {
                Primary::Paren(e) => e,
                Primary::Operand(o) => Expr::Truthy(o),
            }),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Primary, ExprError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected("a value, a name or `(`"));
        };
        let p = match t.kind {
            Tok::Num(n) => Primary::Operand(Operand::Lit(Literal::Num(n))),
            Tok::Str(s) => Primary::Operand(Operand::Lit(Literal::Str(s))),
            Tok::Time(x) => Primary::Operand(Operand::Lit(Literal::Time(x))),
            Tok::True => Primary::Operand(Operand::Lit(Literal::Bool(true))),
            Tok::False => Primary::Operand(Operand::Lit(Literal::Bool(false))),
            Tok::Ref(segments) => Primary::Operand(Operand::Ref(Reference { segments, span: t.span })),
            Tok::LParen => {
                let depth = self.deeper(depth)?;
                self.pos += 1;
                let e = self.or(depth)?;
                if !matches!(self.peek().map(|t| &t.kind), Some(Tok::RParen)) {
                    return Err(self.unexpected("`)`"));
                }
                self.pos += 1;
                return Ok(Primary::Paren(e));
            }
            _ => return Err(self.unexpected("a value, a name or `(`")),
        };
        self.pos += 1;
        Ok(p)
    }

    fn list(&mut self) -> Result<Vec<Literal>, ExprError> {
        if !matches!(self.peek().map(|t| &t.kind), Some(Tok::LBracket)) {
            return Err(self.unexpected("`[` starting a list of values"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            let lit = match self.peek().map(|t| &t.kind) {
                Some(Tok::Num(n)) => Literal::Num(*n),
                Some(Tok::Str(s)) => Literal::Str(s.clone()),
                Some(Tok::Time(x)) => Literal::Time(*x),
                Some(Tok::True) => Literal::Bool(true),
                Some(Tok::False) => Literal::Bool(false),
                Some(Tok::RBracket) if items.is_empty() => {
                    let at = self.peek().map_or(self.end, |t| t.span.start);
                    return Err(ExprError { at, kind: ExprErrorKind::EmptyList });
                }
                _ => return Err(self.unexpected("a constant in the list")),
            };
            self.pos += 1;
            items.push(lit);
            match self.peek().map(|t| &t.kind) {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RBracket) => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }
}

fn operand(p: Primary) -> Operand {
    match p {
        Primary::Operand(o) => o,
        Primary::Paren(e) => Operand::Group(Box::new(e)),
    }
}
