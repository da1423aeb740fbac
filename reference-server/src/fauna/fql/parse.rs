//! The FQL lexer and parser for the subset this server answers: expressions of names, literals, field access, calls, `!`, `==` and short lambdas.
//!
//! The parser knows nothing of what the names mean; [`super::command`]
//! interprets the tree and refuses what it does not recognise.

use serde_json::Value;

use super::FqlError;

/// How deep expressions may nest.
pub const MAX_DEPTH: usize = 64;
/// The longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Ident(String),
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Null,
    Object(Vec<(String, Expr)>),
    Array(Vec<Expr>),
    /// `base.name`
    Field(Box<Expr>, String),
    /// `callee(args)`
    Call(Box<Expr>, Vec<Expr>),
    /// `expr!`
    NonNull(Box<Expr>),
    /// `.a.b`: a field path of the anonymous argument (`.f == v`).
    Path(Vec<String>),
    /// `a == b`
    Eq(Box<Expr>, Box<Expr>),
    /// `x => body`
    Lambda(String, Box<Expr>),
    /// A value interpolated by a driver, already decoded.
    Value(Value),
}

/// A piece of a query as drivers send it: text, or an interpolated value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fragment {
    Text(String),
    Value(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Double(f64),
    Sym(&'static str),
    Value(Value),
}

const SYMBOLS: &[&str] = &[
    "==", "=>", "!=", ".", ",", ":", "(", ")", "{", "}", "[", "]", "!",
];

fn lex(fragments: &[Fragment]) -> Result<Vec<(Token, usize)>, FqlError> {
    let mut tokens = Vec::new();
    let mut offset = 0;
    let total: usize = fragments
        .iter()
        .map(|f| match f {
            Fragment::Text(t) => t.len(),
            Fragment::Value(_) => 1,
        })
        .sum();
    if total > MAX_QUERY_BYTES {
        return Err(FqlError::syntax(
            0,
            format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    for fragment in fragments {
        match fragment {
            Fragment::Value(value) => {
                tokens.push((Token::Value(value.clone()), offset));
                offset += 1;
            }
            Fragment::Text(text) => {
                lex_text(text, offset, &mut tokens)?;
                offset += text.len();
            }
        }
    }
    Ok(tokens)
}

fn lex_text(text: &str, base: usize, tokens: &mut Vec<(Token, usize)>) -> Result<(), FqlError> {
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() || c == ';' {
            at += c.len_utf8();
            continue;
        }
        if rest.starts_with("//") {
            at += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        let start = base + at;
        if c == '"' || c == '\'' {
            let (value, used) = string(rest, c)
                .ok_or_else(|| FqlError::syntax(start, "a string is not closed".to_owned()))?;
            tokens.push((Token::Str(value), start));
            at += used;
        } else if c.is_ascii_digit() {
            let used = rest
                .find(|ch: char| {
                    !(ch.is_ascii_digit() || ch == '.' || ch == '_' || ch == 'e' || ch == 'E')
                })
                .unwrap_or(rest.len());
            let literal = rest[..used].replace('_', "");
            let token =
                if literal.contains(['.', 'e', 'E']) {
                    Token::Double(literal.parse().map_err(|_| {
                        FqlError::syntax(start, format!("{literal} is not a number"))
                    })?)
                } else {
                    Token::Int(literal.parse().map_err(|_| {
                        FqlError::syntax(start, format!("{literal} does not fit in 64 bits"))
                    })?)
                };
            tokens.push((token, start));
            at += used;
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let used = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(rest.len());
            tokens.push((Token::Ident(rest[..used].to_owned()), start));
            at += used;
        } else if let Some(sym) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            tokens.push((Token::Sym(sym), start));
            at += sym.len();
        } else {
            return Err(FqlError::syntax(
                start,
                format!("unexpected character {c:?}"),
            ));
        }
    }
    Ok(())
}

/// A quoted string with JSON-style backslash escapes.
fn string(text: &str, quote: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, i + 1)),
            '\\' => {
                let (_, escaped) = chars.next()?;
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    other => other,
                });
            }
            c => value.push(c),
        }
    }
    None
}

pub fn parse(fragments: &[Fragment]) -> Result<Expr, FqlError> {
    let tokens = lex(fragments)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let expr = parser.expr()?;
    if parser.next < parser.tokens.len() {
        return Err(parser.error("expected the end of the query"));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.next).map_or(0, |(_, at)| *at)
    }

    fn is(&self, sym: &str) -> bool {
        matches!(self.peek(), Some(Token::Sym(s)) if *s == sym)
    }

    fn eat(&mut self, sym: &str) -> bool {
        let found = self.is(sym);
        self.next += usize::from(found);
        found
    }

    fn expect(&mut self, sym: &str) -> Result<(), FqlError> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{sym}`")))
        }
    }

    fn error(&self, message: &str) -> FqlError {
        let found = match self.peek() {
            None => "the end of the query".to_owned(),
            Some(Token::Ident(i)) => format!("`{i}`"),
            Some(Token::Str(s)) => format!("the string {s:?}"),
            Some(Token::Int(n)) => n.to_string(),
            Some(Token::Double(d)) => d.to_string(),
            Some(Token::Sym(s)) => format!("`{s}`"),
            Some(Token::Value(_)) => "an interpolated value".to_owned(),
        };
        FqlError::syntax(self.at(), format!("{message}, found {found}"))
    }

    fn expr(&mut self) -> Result<Expr, FqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FqlError::syntax(
                self.at(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        // `x => body`
        if let (Some(Token::Ident(name)), Some((Token::Sym("=>"), _))) =
            (self.peek().cloned(), self.tokens.get(self.next + 1))
        {
            self.next += 2;
            let body = self.expr()?;
            self.depth -= 1;
            return Ok(Expr::Lambda(name, Box::new(body)));
        }
        let left = self.postfix()?;
        let expr = if self.eat("==") {
            Expr::Eq(Box::new(left), Box::new(self.postfix()?))
        } else if self.is("!=") {
            return Err(FqlError::unsupported(self.at(), "`!=`"));
        } else {
            left
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn postfix(&mut self) -> Result<Expr, FqlError> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                match self.peek().cloned() {
                    Some(Token::Ident(name)) => {
                        self.next += 1;
                        expr = Expr::Field(Box::new(expr), name);
                    }
                    _ => return Err(self.error("expected a name after `.`")),
                }
            } else if self.eat("(") {
                let args = self.list(")")?;
                expr = Expr::Call(Box::new(expr), args);
            } else if self.is("!") {
                self.next += 1;
                expr = Expr::NonNull(Box::new(expr));
            } else if self.is("[") {
                return Err(FqlError::unsupported(self.at(), "indexing with [...]"));
            } else {
                return Ok(expr);
            }
        }
    }

    fn list(&mut self, close: &str) -> Result<Vec<Expr>, FqlError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(",")?;
            if self.eat(close) {
                return Ok(items);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, FqlError> {
        let at = self.at();
        let Some(token) = self.peek().cloned() else {
            return Err(self.error("expected an expression"));
        };
        self.next += 1;
        Ok(match token {
            Token::Ident(name) => match name.as_str() {
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                "let" | "if" | "at" => {
                    return Err(FqlError::unsupported(at, &format!("`{name}`")));
                }
                _ => Expr::Ident(name),
            },
            Token::Str(s) => Expr::Str(s),
            Token::Int(n) => Expr::Int(n),
            Token::Double(d) => Expr::Double(d),
            Token::Value(v) => Expr::Value(v),
            Token::Sym("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                inner
            }
            Token::Sym("[") => Expr::Array(self.list("]")?),
            Token::Sym("{") => self.object()?,
            Token::Sym(".") => {
                let mut path = Vec::new();
                loop {
                    match self.peek().cloned() {
                        Some(Token::Ident(name)) => {
                            self.next += 1;
                            path.push(name);
                        }
                        _ => return Err(self.error("expected a field name after `.`")),
                    }
                    if !self.eat(".") {
                        break;
                    }
                }
                Expr::Path(path)
            }
            Token::Sym("!") => return Err(FqlError::unsupported(at, "`!` as negation")),
            Token::Sym(_) => {
                self.next -= 1;
                return Err(self.error("expected an expression"));
            }
        })
    }

    fn object(&mut self) -> Result<Expr, FqlError> {
        let mut fields = Vec::new();
        if self.eat("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let name = match self.peek().cloned() {
                Some(Token::Ident(name) | Token::Str(name)) => name,
                _ => return Err(self.error("expected a field name")),
            };
            self.next += 1;
            self.expect(":")?;
            fields.push((name, self.expr()?));
            if self.eat("}") {
                return Ok(Expr::Object(fields));
            }
            self.expect(",")?;
            if self.eat("}") {
                return Ok(Expr::Object(fields));
            }
        }
    }
}
