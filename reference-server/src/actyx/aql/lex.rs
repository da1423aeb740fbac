//! The AQL lexer: query text to tokens with their byte offsets.
//!
//! Strings are single- or double-quoted; a quote is doubled to stand for
//! itself (`'it''s'`). `appId(...)` takes its argument raw (app ids contain
//! dots and dashes), so the lexer returns it as one token. Backtick string
//! interpolation is an AQL feature we do not implement and is refused here.

use super::AqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A word: keyword or identifier (`FROM`, `allEvents`, `IsDefined`, `zøg`).
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A non-negative integer literal.
    Natural(u64),
    /// A literal with a non-zero fraction.
    Decimal(f64),
    /// The raw argument of `appId(...)`.
    AppId(String),
    /// Punctuation and operators, as written in canonical form (`≤` becomes `<=`).
    Sym(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    /// Byte offset of the token's first character.
    pub at: usize,
}

/// Longest first, so that `<=` wins over `<`.
const SYMBOLS: &[(&str, &str)] = &[
    ("...", "..."),
    (":=", ":="),
    ("=>", "=>"),
    ("!=", "!="),
    ("<=", "<="),
    (">=", ">="),
    ("??", "??"),
    ("≠", "!="),
    ("≤", "<="),
    ("≥", ">="),
    ("∧", "&"),
    ("∨", "|"),
    ("⊻", "~"),
    ("¬", "!"),
    ("×", "*"),
    ("÷", "/"),
    ("&", "&"),
    ("|", "|"),
    ("!", "!"),
    ("~", "~"),
    ("(", "("),
    (")", ")"),
    ("[", "["),
    ("]", "]"),
    ("{", "{"),
    ("}", "}"),
    (",", ","),
    (".", "."),
    (":", ":"),
    ("=", "="),
    ("<", "<"),
    (">", ">"),
    ("+", "+"),
    ("-", "-"),
    ("*", "*"),
    ("/", "/"),
    ("%", "%"),
    ("^", "^"),
];

/// The longest query text accepted; a query is a line of text, not a program.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

pub fn lex(text: &str) -> Result<Vec<Spanned>, AqlError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(AqlError::syntax(
            0,
            format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            at += c.len_utf8();
            continue;
        }
        if rest.starts_with("--") {
            // A comment runs to the end of the line.
            at += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        let start = at;
        let token = if c == '\'' || c == '"' {
            let (value, used) = string(rest, c).ok_or_else(|| {
                AqlError::syntax(start, "a string is not closed by its quote".to_owned())
            })?;
            at += used;
            Token::Str(value)
        } else if c == '`' {
            return Err(AqlError::unsupported(start, "string interpolation (`...`)"));
        } else if c.is_ascii_digit() {
            let (token, used) = number(rest).map_err(|m| AqlError::syntax(start, m))?;
            at += used;
            token
        } else if c.is_alphabetic() || c == '_' {
            let used = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..used];
            at += used;
            if word == "appId" {
                let (id, more) = app_id(&text[at..]).ok_or_else(|| {
                    AqlError::syntax(
                        start,
                        "appId needs an argument: appId(com.example.app)".to_owned(),
                    )
                })?;
                at += more;
                Token::AppId(id)
            } else {
                Token::Word(word.to_owned())
            }
        } else if let Some((written, canonical)) = SYMBOLS
            .iter()
            .find(|(written, _)| rest.starts_with(written))
        {
            at += written.len();
            Token::Sym(canonical)
        } else {
            return Err(AqlError::syntax(
                start,
                format!("unexpected character {c:?}"),
            ));
        };
        tokens.push(Spanned { token, at: start });
    }
    Ok(tokens)
}

/// A quoted string at the start of `text`: its value and the bytes it took.
fn string(text: &str, quote: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().map(|(_, next)| *next) == Some(quote) {
                chars.next();
                value.push(quote);
                continue;
            }
            return Some((value, i + c.len_utf8()));
        }
        value.push(c);
    }
    None
}

fn number(text: &str) -> Result<(Token, usize), String> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut used = digits(text);
    let mut decimal = false;
    let rest = &text[used..];
    if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        used += 1 + digits(&rest[1..]);
        decimal = true;
    }
    let literal = &text[..used];
    // As in AQL, a literal whose fraction is zero (`1.0`) is a whole number.
    let whole = literal
        .split_once('.')
        .map_or(literal, |(whole, fraction)| {
            if fraction.bytes().all(|b| b == b'0') {
                whole
            } else {
                literal
            }
        });
    let decimal = decimal && whole == literal;
    let literal = whole;
    let token = if decimal {
        Token::Decimal(
            literal
                .parse()
                .map_err(|_| format!("{literal} is not a number"))?,
        )
    } else {
        Token::Natural(
            literal
                .parse()
                .map_err(|_| format!("{literal} does not fit in 64 bits"))?,
        )
    };
    Ok((token, used))
}

/// `(com.example.app)` after `appId`: the id and the bytes taken, spaces allowed around it.
fn app_id(text: &str) -> Option<(String, usize)> {
    let open = text.find(|c: char| !c.is_whitespace())?;
    if !text[open..].starts_with('(') {
        return None;
    }
    let close = open + text[open..].find(')')?;
    let id = text[open + 1..close].trim();
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    valid.then(|| (id.to_owned(), close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        lex(text).unwrap().into_iter().map(|s| s.token).collect()
    }

    #[test]
    fn quotes_are_doubled_to_escape_and_both_kinds_work() {
        assert_eq!(
            tokens(r#"FROM 'it''s' | "say ""hi""""#),
            vec![
                Token::Word("FROM".into()),
                Token::Str("it's".into()),
                Token::Sym("|"),
                Token::Str("say \"hi\"".into()),
            ]
        );
    }

    #[test]
    fn app_ids_numbers_and_two_character_operators() {
        assert_eq!(
            tokens("appId( com.example-x.app ) 12 1.5 2.00 <= ≥ != :="),
            vec![
                Token::AppId("com.example-x.app".into()),
                Token::Natural(12),
                Token::Decimal(1.5),
                Token::Natural(2),
                Token::Sym("<="),
                Token::Sym(">="),
                Token::Sym("!="),
                Token::Sym(":="),
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error_with_a_position() {
        assert!(lex("FROM 'open").is_err());
        assert!(
            lex("FROM `x`")
                .unwrap_err()
                .to_string()
                .contains("interpolation")
        );
        assert!(lex("FROM 99999999999999999999").is_err());
        assert!(lex("FROM appId()").is_err());
        assert!(lex("FROM #").is_err());
    }
}
