//! Lexer and recursive-descent parser for SCIM filters and PATCH paths.

use std::str::FromStr;

use serde_json::Number;

use super::{starts_with_ci, AttrPath, CompValue, CompareOp, Filter, FilterError};
use super::{MAX_DEPTH, MAX_FILTER_LEN};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Word(String),
    Str(String),
    Num(Number),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offset in the input.
    pos: usize,
}

/// Builds an error at byte offset `byte_pos` of `src`.
fn error(src: &str, byte_pos: usize, what: &str) -> FilterError {
    let position = src
        .get(..byte_pos)
        .map_or(byte_pos, |prefix| prefix.chars().count());
    FilterError {
        position,
        message: format!("{what} at position {position}"),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "token '('".into(),
        Tok::RParen => "token ')'".into(),
        Tok::LBracket => "token '['".into(),
        Tok::RBracket => "token ']'".into(),
        Tok::Dot => "token '.'".into(),
        Tok::Word(w) => format!("token '{w}'"),
        Tok::Str(s) => {
            let shown: String = s.chars().take(40).collect();
            format!("string \"{shown}\"")
        }
        Tok::Num(n) => format!("number {n}"),
        Tok::Eof => "end of input".into(),
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$' || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | '.' | ':')
}

fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    if src.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            position: MAX_FILTER_LEN,
            message: format!(
                "filter is {} bytes long, longer than the limit of {MAX_FILTER_LEN}",
                src.len()
            ),
        });
    }
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '.' => Some(Tok::Dot),
            _ => None,
        };
        if let Some(tok) = simple {
            chars.next();
            toks.push(Token { tok, pos });
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            // Find the closing quote, skipping escaped characters; the quote
            // and backslash are ASCII, so byte offsets stay on char boundaries.
            let mut i = pos + 1;
            let end = loop {
                match bytes.get(i) {
                    None => return Err(error(src, pos, "unterminated string literal")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break i,
                    Some(_) => i += 1,
                }
            };
            let literal = src.get(pos..=end).unwrap_or_default();
            let value: String = serde_json::from_str(literal)
                .map_err(|e| error(src, pos, &format!("invalid string literal ({e})")))?;
            toks.push(Token {
                tok: Tok::Str(value),
                pos,
            });
            while chars.peek().is_some_and(|&(p, _)| p <= end) {
                chars.next();
            }
        } else if c.is_ascii_digit() || c == '-' {
            let mut end = pos;
            while let Some(&(p, d)) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || matches!(d, '+' | '-' | '.')) {
                    break;
                }
                end = p + d.len_utf8();
                chars.next();
            }
            let text = src.get(pos..end).unwrap_or_default();
            let n = parse_number(text)
                .ok_or_else(|| error(src, pos, &format!("invalid number '{text}'")))?;
            toks.push(Token {
                tok: Tok::Num(n),
                pos,
            });
        } else if is_word_start(c) {
            let mut end = pos;
            while let Some(&(p, d)) = chars.peek() {
                if !is_word_char(d) {
                    break;
                }
                end = p + d.len_utf8();
                chars.next();
            }
            let word = src.get(pos..end).unwrap_or_default().to_string();
            toks.push(Token {
                tok: Tok::Word(word),
                pos,
            });
        } else {
            return Err(error(src, pos, &format!("unexpected character '{c}'")));
        }
    }
    toks.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(toks)
}

/// Parses a JSON number; decimals use Rust's correctly rounded parser
/// (serde_json's default one may be off by one unit in the last place,
/// which would break print/parse round trips).
fn parse_number(text: &str) -> Option<Number> {
    let n = Number::from_str(text).ok()?;
    if n.is_f64() {
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    }
    Some(n)
}

/// Whether `s` is an attribute name: a letter (or `$`, `_`) then letters,
/// digits, `-`, `_`, `$`.
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_word_start)
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
}

/// Splits `name` or `name.sub`.
fn split_name(s: &str) -> Option<(String, Option<String>)> {
    match s.split_once('.') {
        None => is_attr_name(s).then(|| (s.to_string(), None)),
        Some((name, sub)) => (is_attr_name(name) && is_attr_name(sub))
            .then(|| (name.to_string(), Some(sub.to_string()))),
    }
}

/// Interprets one word as an attribute path; `None` when it is not one.
fn word_to_path(word: &str) -> Option<AttrPath> {
    if !starts_with_ci(word, "urn:") {
        let (name, sub) = split_name(word)?;
        return Some(AttrPath {
            urn: None,
            name,
            sub,
        });
    }
    let (urn, rest) = word.rsplit_once(':')?;
    let last_segment = urn.rsplit(':').next().unwrap_or_default();
    let versioned = last_segment.starts_with(|c: char| c.is_ascii_digit());
    if versioned {
        // `urn:...:2.0:User`: the whole word names a schema.
        return is_attr_name(rest).then(|| AttrPath::new(word));
    }
    if urn.len() <= "urn:".len() {
        return None;
    }
    let (name, sub) = split_name(rest)?;
    Some(AttrPath {
        urn: Some(urn.to_string()),
        name,
        sub,
    })
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    next: usize,
    depth: usize,
    in_brackets: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, FilterError> {
        Ok(Self {
            src,
            toks: lex(src)?,
            next: 0,
            depth: 0,
            in_brackets: false,
        })
    }

    fn peek(&self) -> &Tok {
        self.toks.get(self.next).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.toks
            .get(self.next + ahead)
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.next).map_or(self.src.len(), |t| t.pos)
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.next < self.toks.len() {
            self.next += 1;
        }
        tok
    }

    fn unexpected(&self, expected: &str) -> FilterError {
        let what = format!("unexpected {}", describe(self.peek()));
        let mut e = error(self.src, self.pos(), &what);
        e.message = format!("{}: expected {expected}", e.message);
        e
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, tok: &Tok, expected: &str) -> Result<(), FilterError> {
        if self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(
                self.src,
                self.pos(),
                &format!("filter nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), FilterError> {
        self.expect(&Tok::Eof, "end of filter ('and', 'or' or nothing)")
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.bump();
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.bump();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parenthesized(&mut self) -> Result<Filter, FilterError> {
        self.enter()?;
        self.expect(&Tok::LParen, "'('")?;
        let inner = self.or_expr()?;
        self.expect(&Tok::RParen, "')', 'and' or 'or'")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if *self.peek() == Tok::LParen {
            return self.parenthesized();
        }
        if self.peek_keyword("not") && *self.peek_at(1) == Tok::LParen {
            self.bump();
            return Ok(Filter::Not(Box::new(self.parenthesized()?)));
        }
        let path = self.attr_path()?;
        if *self.peek() != Tok::LBracket {
            return self.operation(path);
        }
        let filter = self.bracket(&path)?;
        if *self.peek() != Tok::Dot {
            return Ok(Filter::ValuePath { path, filter });
        }
        // Entra form `attr[filter].sub op value`.
        self.bump();
        let sub = self.sub_attr()?;
        let comparison = self.operation(AttrPath::new(sub))?;
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(Filter::And(filter, Box::new(comparison))),
        })
    }

    /// Parses `[filter]` after `path`.
    fn bracket(&mut self, path: &AttrPath) -> Result<Box<Filter>, FilterError> {
        if self.in_brackets {
            return Err(self.unexpected("an operator (value filters cannot be nested)"));
        }
        if path.sub.is_some() || path.is_schema_urn() {
            return Err(self.unexpected("an operator ('[' must follow a plain attribute)"));
        }
        self.enter()?;
        self.bump();
        self.in_brackets = true;
        let inner = self.or_expr()?;
        self.expect(&Tok::RBracket, "']', 'and' or 'or'")?;
        self.in_brackets = false;
        self.depth -= 1;
        Ok(Box::new(inner))
    }

    fn attr_path(&mut self) -> Result<AttrPath, FilterError> {
        if let Tok::Word(w) = self.peek() {
            if let Some(path) = word_to_path(w) {
                self.bump();
                return Ok(path);
            }
            return Err(self.unexpected("an attribute path such as 'name.givenName'"));
        }
        Err(self.unexpected("an attribute path, '(' or 'not ('"))
    }

    fn sub_attr(&mut self) -> Result<String, FilterError> {
        if let Tok::Word(w) = self.peek() {
            if is_attr_name(w) {
                let sub = w.clone();
                self.bump();
                return Ok(sub);
            }
        }
        Err(self.unexpected("a sub-attribute name"))
    }

    /// Parses `pr` or `op value` after `path`.
    fn operation(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let op = match self.peek() {
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => {
                self.bump();
                return Ok(Filter::Present(path));
            }
            Tok::Word(w) => CompareOp::from_keyword(w),
            _ => None,
        };
        let Some(op) = op else {
            return Err(
                self.unexpected("a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
            );
        };
        self.bump();
        let value = match self.peek() {
            Tok::Str(s) => CompValue::Str(s.clone()),
            Tok::Num(n) => CompValue::Num(n.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(
                    self.unexpected("a value (a quoted string, a number, true, false or null)")
                )
            }
        };
        self.bump();
        Ok(Filter::Compare { path, op, value })
    }
}

/// Parses a whole filter.
pub(super) fn parse_filter(src: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(src)?;
    if *p.peek() == Tok::Eof {
        return Err(error(src, 0, "empty filter"));
    }
    let filter = p.or_expr()?;
    p.end()?;
    Ok(filter)
}

/// Parses a bare attribute path.
pub(super) fn parse_attr_path(src: &str) -> Result<AttrPath, FilterError> {
    let mut p = Parser::new(src)?;
    let path = p.attr_path()?;
    p.expect(&Tok::Eof, "end of attribute path")?;
    Ok(path)
}

/// Parses a PATCH path: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`.
pub(super) fn parse_patch_path(src: &str) -> Result<(AttrPath, Option<Filter>), FilterError> {
    let mut p = Parser::new(src)?;
    let mut path = p.attr_path()?;
    if *p.peek() != Tok::LBracket {
        p.expect(&Tok::Eof, "end of path or '['")?;
        return Ok((path, None));
    }
    let filter = p.bracket(&path)?;
    if *p.peek() == Tok::Dot {
        p.bump();
        path.sub = Some(p.sub_attr()?);
    }
    p.expect(&Tok::Eof, "end of path or '.' and a sub-attribute")?;
    Ok((path, Some(*filter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_paths() {
        let p = word_to_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (p.name.as_str(), p.sub.as_deref()),
            ("manager", Some("value"))
        );
        let whole =
            word_to_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").unwrap();
        assert!(whole.is_schema_urn());
        assert!(word_to_path("urn:x").is_none());
        assert!(word_to_path("a.b.c").is_none());
        assert!(word_to_path("urn:a:2.0").is_none());
        assert!(word_to_path("name.").is_none());
    }

    #[test]
    fn lexes_numbers_and_strings() {
        let toks = lex(r#"a eq -1.5e3 "x\"y""#).unwrap();
        assert_eq!(toks[2].tok, Tok::Num(Number::from_f64(-1500.0).unwrap()));
        assert_eq!(toks[3].tok, Tok::Str("x\"y".into()));
        assert!(lex("a eq 01").is_err());
        assert!(lex("a eq \"abc\\").is_err());
    }
}
