//! The AQL parser: tokens to a [`Query`], by recursive descent.
//!
//! Precedence, loosest first: `??`, `|`, `~`, `&`, equality, order
//! comparisons, `+ -`, `* / %`, `^` (right-associative), then prefix `!`,
//! then indexing (`.f`, `[e]`). In `FROM`, `&` binds tighter than `|` as
//! well. As in AQL, `-` before a number is part of the literal (a decimal),
//! not an operator.

use super::lex::{Spanned, Token, lex};
use super::{AqlError, BinOp, Expr, Index, Op, Query, TagExpr};

/// How deep expressions and tag expressions may nest, so that a hostile
/// query cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Words that name AQL operations we do not implement; anything else
/// unexpected is a syntax error.
const UNSUPPORTED_OPS: &[(&str, &str)] = &[
    ("AGGREGATE", "AGGREGATE"),
    ("LET", "LET bindings"),
    ("BINDING", "LET bindings"),
    ("SORT", "SORT"),
];

pub fn parse(text: &str, flat_tags: bool) -> Result<Query, AqlError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
        end: text.len(),
        flat_tags,
    };
    parser.query()
}

struct Parser {
    tokens: Vec<Spanned>,
    next: usize,
    depth: usize,
    end: usize,
    /// The `tag-precedence-flat` defect.
    flat_tags: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|s| &s.token)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |s| s.at)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|s| s.token.clone());
        self.next += usize::from(token.is_some());
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Some(Token::Sym(s)) if *s == sym)
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let found = self.is_sym(sym);
        self.next += usize::from(found);
        found
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), AqlError> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(self.error(format!("expected {sym}")))
        }
    }

    fn error(&self, message: String) -> AqlError {
        let found = match self.peek() {
            None => "the end of the query".to_owned(),
            Some(token) => describe(token),
        };
        AqlError::syntax(self.at(), format!("{message}, found {found}"))
    }

    fn deeper(&mut self) -> Result<(), AqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(AqlError::syntax(
                self.at(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn query(&mut self) -> Result<Query, AqlError> {
        let features = self.pragmas()?;
        if !self.is_word("FROM") {
            return Err(self.error("a query starts with FROM".to_owned()));
        }
        self.next += 1;
        if self.is_sym("[") {
            return Err(AqlError::unsupported(
                self.at(),
                "FROM with an array of values",
            ));
        }
        let source = self.tags()?;
        if self.is_word("ORDER") {
            return Err(AqlError::unsupported(
                self.at(),
                "ORDER in the query (use the request's order)",
            ));
        }
        let mut ops = Vec::new();
        loop {
            let at = self.at();
            match self.peek() {
                None => break,
                Some(Token::Word(w)) if w == "END" => {
                    self.next += 1;
                    if self.peek().is_some() {
                        return Err(self.error("nothing may follow END".to_owned()));
                    }
                    break;
                }
                Some(Token::Word(w)) if w == "FILTER" => {
                    self.next += 1;
                    ops.push(Op::Filter(self.expr()?));
                }
                Some(Token::Word(w)) if w == "SELECT" => {
                    self.next += 1;
                    let mut exprs = vec![self.select_item()?];
                    while self.eat_sym(",") {
                        exprs.push(self.select_item()?);
                    }
                    ops.push(Op::Select(exprs));
                }
                Some(Token::Word(w)) if w == "LIMIT" => {
                    self.next += 1;
                    match self.bump() {
                        Some(Token::Natural(n)) if n > 0 => ops.push(Op::Limit(n)),
                        _ => {
                            return Err(AqlError::syntax(
                                at,
                                "LIMIT takes a positive whole number".to_owned(),
                            ));
                        }
                    }
                }
                Some(Token::Word(w)) => {
                    if let Some((_, what)) = UNSUPPORTED_OPS.iter().find(|(k, _)| k == w) {
                        return Err(AqlError::unsupported(at, what));
                    }
                    return Err(self.error("expected FILTER, SELECT, LIMIT or END".to_owned()));
                }
                Some(_) => {
                    return Err(self.error("expected FILTER, SELECT, LIMIT or END".to_owned()));
                }
            }
        }
        Ok(Query {
            features,
            source,
            ops,
        })
    }

    /// `PRAGMA features := a b c` lines and `FEATURES(a b)` before `FROM`.
    fn pragmas(&mut self) -> Result<Vec<String>, AqlError> {
        let mut features = Vec::new();
        loop {
            if self.is_word("PRAGMA") {
                let at = self.at();
                self.next += 1;
                match self.bump() {
                    Some(Token::Word(w)) if w == "features" => {}
                    _ => {
                        return Err(AqlError::unsupported(at, "PRAGMAs other than features"));
                    }
                }
                self.expect_sym(":=")?;
                while let Some(Token::Word(w)) = self.peek() {
                    if w == "FROM" || w == "PRAGMA" || w == "FEATURES" {
                        break;
                    }
                    features.push(w.clone());
                    self.next += 1;
                }
            } else if self.is_word("FEATURES") {
                self.next += 1;
                self.expect_sym("(")?;
                while let Some(Token::Word(w)) = self.peek() {
                    features.push(w.clone());
                    self.next += 1;
                }
                self.expect_sym(")")?;
            } else {
                return Ok(features);
            }
        }
    }

    fn tags(&mut self) -> Result<TagExpr, AqlError> {
        self.deeper()?;
        let mut left = self.tag_and()?;
        while self.eat_sym("|") {
            left = TagExpr::Or(Box::new(left), Box::new(self.tag_and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn tag_and(&mut self) -> Result<TagExpr, AqlError> {
        let mut left = self.tag_atom()?;
        loop {
            if self.eat_sym("&") {
                left = TagExpr::And(Box::new(left), Box::new(self.tag_atom()?));
            } else if self.flat_tags && self.eat_sym("|") {
                left = TagExpr::Or(Box::new(left), Box::new(self.tag_atom()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn tag_atom(&mut self) -> Result<TagExpr, AqlError> {
        let at = self.at();
        match self.peek().cloned() {
            Some(Token::Str(tag)) if tag.is_empty() => {
                Err(AqlError::syntax(at, "a tag must not be empty".to_owned()))
            }
            Some(Token::Str(tag)) => {
                self.next += 1;
                Ok(TagExpr::Tag(tag))
            }
            Some(Token::AppId(id)) => {
                self.next += 1;
                Ok(TagExpr::AppId(id))
            }
            Some(Token::Sym("(")) => {
                self.next += 1;
                let inner = self.tags()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                match w.as_str() {
                    "allEvents" => {
                        self.next += 1;
                        Ok(TagExpr::All)
                    }
                    "isLocal" => {
                        self.next += 1;
                        Ok(TagExpr::Local)
                    }
                    "from" | "to" => Err(AqlError::unsupported(
                        at,
                        "time and event-key ranges in FROM (from(...), to(...))",
                    )),
                    _ => Err(self
                        .error("expected a tag, allEvents, isLocal, appId(...) or (".to_owned())),
                }
            }
            _ => Err(self.error("expected a tag, allEvents, isLocal, appId(...) or (".to_owned())),
        }
    }

    fn select_item(&mut self) -> Result<Expr, AqlError> {
        if self.is_sym("...") {
            return Err(AqlError::unsupported(self.at(), "spread (...)"));
        }
        self.expr()
    }

    fn expr(&mut self) -> Result<Expr, AqlError> {
        self.deeper()?;
        let expr = self.binary(0)?;
        self.depth -= 1;
        Ok(expr)
    }

    /// Binary operators by precedence level; `^` (the last) is right-associative.
    fn binary(&mut self, level: usize) -> Result<Expr, AqlError> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("??", BinOp::Alternative)],
            &[("|", BinOp::Or)],
            &[("~", BinOp::Xor)],
            &[("&", BinOp::And)],
            &[("=", BinOp::Eq), ("!=", BinOp::Ne)],
            &[
                ("<", BinOp::Lt),
                ("<=", BinOp::Le),
                (">", BinOp::Gt),
                (">=", BinOp::Ge),
            ],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
            &[("^", BinOp::Pow)],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        loop {
            let Some(op) = ops
                .iter()
                .find(|(sym, _)| self.is_sym(sym))
                .map(|(_, op)| *op)
            else {
                return Ok(left);
            };
            self.next += 1;
            self.deeper()?;
            let right = if op == BinOp::Pow {
                self.binary(level)?
            } else {
                self.binary(level + 1)?
            };
            self.depth -= 1;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
            if op == BinOp::Pow {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, AqlError> {
        if self.eat_sym("!") {
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let mut expr = self.primary()?;
        loop {
            if self.eat_sym(".") {
                match self.bump() {
                    Some(Token::Word(field)) => {
                        expr = Expr::Index(Box::new(expr), Index::Field(field));
                    }
                    _ => {
                        self.next -= 1;
                        return Err(self.error("expected a field name after .".to_owned()));
                    }
                }
            } else if self.eat_sym("[") {
                let index = match self.bump() {
                    Some(Token::Natural(n)) => Index::Position(n),
                    Some(Token::Str(s)) => Index::Field(s),
                    _ => {
                        self.next -= 1;
                        return Err(AqlError::unsupported(
                            self.at(),
                            "computed indexes (only [number] and ['field'] are supported)",
                        ));
                    }
                };
                self.expect_sym("]")?;
                expr = Expr::Index(Box::new(expr), index);
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, AqlError> {
        let at = self.at();
        let Some(token) = self.bump() else {
            return Err(self.error("expected an expression".to_owned()));
        };
        match token {
            Token::Natural(n) => Ok(Expr::Natural(n)),
            Token::Decimal(d) => Ok(Expr::Decimal(d)),
            Token::Str(s) => Ok(Expr::Str(s)),
            Token::Sym("-") => match self.bump() {
                // AQL writes negative numbers as decimal literals.
                #[allow(clippy::cast_precision_loss)]
                Some(Token::Natural(n)) => Ok(Expr::Decimal(-(n as f64))),
                Some(Token::Decimal(d)) => Ok(Expr::Decimal(-d)),
                _ => Err(AqlError::syntax(
                    at,
                    "- must be followed by a number".to_owned(),
                )),
            },
            Token::Sym("...") => Err(AqlError::unsupported(at, "spread (...)")),
            Token::Sym("(") => {
                let inner = self.expr()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Token::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat_sym("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_sym("]") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Ok(Expr::Array(items))
            }
            Token::Sym("{") => self.object(),
            Token::Word(w) => match w.as_str() {
                "_" => Ok(Expr::Current),
                "TRUE" => Ok(Expr::Bool(true)),
                "FALSE" => Ok(Expr::Bool(false)),
                "NULL" => Ok(Expr::Null),
                "IsDefined" => {
                    self.expect_sym("(")?;
                    let inner = self.expr()?;
                    self.expect_sym(")")?;
                    Ok(Expr::IsDefined(Box::new(inner)))
                }
                "CASE" => Err(AqlError::unsupported(at, "CASE expressions")),
                "KEY" | "TIME" | "TAGS" | "APP" => Err(AqlError::unsupported(
                    at,
                    "event metadata functions (KEY, TIME, TAGS, APP)",
                )),
                "FROM" => Err(AqlError::unsupported(at, "sub-queries")),
                "SUM" | "PRODUCT" | "MIN" | "MAX" | "FIRST" | "LAST" => {
                    Err(AqlError::unsupported(at, "AGGREGATE"))
                }
                _ if w.starts_with(char::is_uppercase) && self.is_sym("(") => {
                    Err(AqlError::syntax(at, format!("undefined function '{w}'")))
                }
                _ if w.starts_with(|c: char| c.is_lowercase()) => Err(AqlError::unsupported(
                    at,
                    "LET bindings (variables other than _)",
                )),
                _ => Err(AqlError::syntax(at, format!("unexpected {w:?}"))),
            },
            other => {
                self.next -= 1;
                let _ = other;
                Err(self.error("expected an expression".to_owned()))
            }
        }
    }

    fn object(&mut self) -> Result<Expr, AqlError> {
        let mut fields = Vec::new();
        if self.eat_sym("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let name = match self.bump() {
                Some(Token::Word(w)) => w,
                Some(Token::Str(s)) => s,
                Some(Token::Sym("[")) => {
                    self.next -= 1;
                    return Err(AqlError::unsupported(self.at(), "computed object keys"));
                }
                _ => {
                    self.next -= 1;
                    return Err(self.error("expected a field name".to_owned()));
                }
            };
            self.expect_sym(":")?;
            fields.push((name, self.expr()?));
            if self.eat_sym("}") {
                return Ok(Expr::Object(fields));
            }
            self.expect_sym(",")?;
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("{w:?}"),
        Token::Str(s) => format!("the string {s:?}"),
        Token::Natural(n) => n.to_string(),
        Token::Decimal(d) => d.to_string(),
        Token::AppId(id) => format!("appId({id})"),
        Token::Sym(s) => format!("{s:?}"),
    }
}
