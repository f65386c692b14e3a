//! PDF's object syntax (ISO 32000-1 §7.2–7.3), read from borrowed bytes: just enough
//! to read dictionaries, arrays, numbers, names and references.
//!
//! Promises: nothing is copied out of the input (strings are stepped over, never
//! decoded), nesting is capped so no document can recurse the parser off the stack,
//! and one parse holds at most [`MAX_ITEMS`] values, so what a parse allocates is
//! bounded whatever the input. Callers charge [`Lexer::pos`] to their work budget.
//! Parsing a window of a document rather than all of it is safe: the lexer says when
//! it needed more.

use super::Refusal;

/// Arrays and dictionaries nested deeper than this are refused: real documents nest a
/// handful of levels, and the parser recurses once per level.
const MAX_NESTING: usize = 64;

/// Values in one parsed object. A page-tree node listing a million kids is already far
/// past anything a printer is sent; the cap bounds the memory of one parse.
pub(super) const MAX_ITEMS: usize = 1 << 20;

/// Byte classes (§7.2.2), looked up: the lexer asks for every byte it passes.
const WHITE: u8 = 1;
const DELIMITER: u8 = 2;
static CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut i = 0;
    while i < 256 {
        class[i] = match i as u8 {
            0 | 9 | 10 | 12 | 13 | 32 => WHITE,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%' => DELIMITER,
            _ => 0,
        };
        i += 1;
    }
    class
};

pub(super) fn is_white(b: u8) -> bool {
    CLASS[b as usize] == WHITE
}

pub(super) fn is_regular(b: u8) -> bool {
    CLASS[b as usize] == 0
}

/// An indirect reference, `num gen R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ref {
    pub num: u32,
    pub gen: u16,
}

/// A name as written, `#xx` escapes still in it: they are decoded only when compared.
#[derive(Clone, Copy, Debug)]
pub(super) struct Name<'a>(&'a [u8]);

impl Name<'_> {
    /// Whether the name, escapes decoded, is `want`.
    pub fn is(&self, want: &[u8]) -> bool {
        let mut raw = self.0.iter().copied();
        let mut want = want.iter().copied();
        loop {
            let got = match raw.next() {
                Some(b'#') => {
                    let hi = raw.next().and_then(|c| (c as char).to_digit(16));
                    let lo = raw.next().and_then(|c| (c as char).to_digit(16));
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => Some((hi * 16 + lo) as u8),
                        _ => return false,
                    }
                }
                other => other,
            };
            match (got, want.next()) {
                (None, None) => return true,
                (a, b) if a == b => {}
                _ => return false,
            }
        }
    }

    /// The name for a message to a person.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.0).into_owned()
    }
}

#[derive(Debug)]
pub(super) enum Obj<'a> {
    Null,
    Bool,
    Int(i64),
    Real,
    Str,
    Name(Name<'a>),
    Array(Vec<Obj<'a>>),
    Dict(Dict<'a>),
    Ref(Ref),
}

impl<'a> Obj<'a> {
    pub fn dict(&self) -> Option<&Dict<'a>> {
        match self {
            Obj::Dict(d) => Some(d),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Dict<'a>(Vec<(Name<'a>, Obj<'a>)>);

impl<'a> Dict<'a> {
    pub fn get(&self, key: &[u8]) -> Option<&Obj<'a>> {
        self.0.iter().find(|(k, _)| k.is(key)).map(|(_, v)| v)
    }

    pub fn int(&self, key: &[u8]) -> Option<i64> {
        match self.get(key) {
            Some(Obj::Int(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn name(&self, key: &[u8]) -> Option<Name<'a>> {
        match self.get(key) {
            Some(Obj::Name(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn reference(&self, key: &[u8]) -> Option<Ref> {
        match self.get(key) {
            Some(Obj::Ref(r)) => Some(*r),
            _ => None,
        }
    }

    pub fn has(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Whether `/Type` is the name `ty`.
    pub fn is_type(&self, ty: &[u8]) -> bool {
        self.name(b"Type").is_some_and(|n| n.is(ty))
    }
}

enum Token<'a> {
    Int(i64),
    Real,
    Str,
    Name(&'a [u8]),
    ArrayOpen,
    ArrayClose,
    DictOpen,
    DictClose,
    Word(&'a [u8]),
    End,
}

fn damaged(what: &str) -> Refusal {
    Refusal::Damaged(what.into())
}

/// Reads tokens and objects from `data`, which may be a window on a larger document:
/// [`Lexer::short`] tells whether the lexer looked past the window's end, so that a
/// result read from a window that was too small is not trusted.
pub(super) struct Lexer<'a> {
    data: &'a [u8],
    pub pos: usize,
    items: usize,
    short: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Lexer { data, pos: pos.min(data.len()), items: 0, short: false }
    }

    /// Whether anything read needed bytes past the end of the data.
    pub fn short(&self) -> bool {
        self.short
    }

    /// The byte at `i`; asking past the end is remembered.
    pub fn peek(&mut self, i: usize) -> Option<u8> {
        let b = self.data.get(i).copied();
        self.short |= b.is_none();
        b
    }

    pub fn skip_white(&mut self) {
        while let Some(b) = self.peek(self.pos) {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self.peek(self.pos).is_some_and(|b| b != b'\n' && b != b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Steps over `word` (a keyword such as `xref` or `trailer`) if it comes next.
    pub fn keyword(&mut self, word: &[u8]) -> bool {
        self.skip_white();
        let end = self.pos + word.len();
        let here = word.iter().enumerate().all(|(i, &w)| self.peek(self.pos + i) == Some(w));
        if here && self.peek(end).is_none_or(|b| !is_regular(b)) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// A non-negative integer, as in cross-reference subsection headers.
    pub fn unsigned(&mut self) -> Option<u64> {
        let save = self.pos;
        match self.token() {
            Ok(Token::Int(n)) if n >= 0 => Some(n as u64),
            _ => {
                self.pos = save;
                None
            }
        }
    }

    /// `num gen obj`, the head of an indirect object.
    pub fn object_head(&mut self) -> Option<Ref> {
        let save = self.pos;
        let head = (|| {
            let num = u32::try_from(self.unsigned()?).ok()?;
            let gen = u16::try_from(self.unsigned()?).ok()?;
            self.keyword(b"obj").then_some(Ref { num, gen })
        })();
        if head.is_none() {
            self.pos = save;
        }
        head
    }

    /// After a stream's dictionary: where its data starts, if the `stream` keyword
    /// follows (and its end of line, which is not part of the data).
    pub fn stream_start(&mut self) -> Option<usize> {
        let save = self.pos;
        if !self.keyword(b"stream") {
            self.pos = save;
            return None;
        }
        if self.peek(self.pos) == Some(b'\r') {
            self.pos += 1;
        }
        if self.peek(self.pos) == Some(b'\n') {
            self.pos += 1;
        }
        Some(self.pos)
    }

    pub fn object(&mut self) -> Result<Obj<'a>, Refusal> {
        let token = self.token()?;
        self.value(token, 0)
    }

    fn value(&mut self, token: Token<'a>, depth: usize) -> Result<Obj<'a>, Refusal> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(Refusal::TooComplex(format!(
                "one of its objects holds more than {MAX_ITEMS} values"
            )));
        }
        Ok(match token {
            Token::Int(n) => self.maybe_reference(n),
            Token::Real => Obj::Real,
            Token::Str => Obj::Str,
            Token::Name(n) => Obj::Name(Name(n)),
            Token::ArrayOpen | Token::DictOpen if depth >= MAX_NESTING => {
                return Err(damaged("its objects are nested too deep"))
            }
            Token::ArrayOpen => {
                let mut items = Vec::new();
                loop {
                    match self.token()? {
                        Token::ArrayClose => break Obj::Array(items),
                        Token::End => return Err(damaged("an array is not closed")),
                        t => items.push(self.value(t, depth + 1)?),
                    }
                }
            }
            Token::DictOpen => {
                let mut entries = Vec::new();
                loop {
                    match self.token()? {
                        Token::DictClose => break Obj::Dict(Dict(entries)),
                        Token::Name(key) => {
                            let t = self.token()?;
                            entries.push((Name(key), self.value(t, depth + 1)?));
                        }
                        _ => return Err(damaged("a dictionary key is not a name")),
                    }
                }
            }
            Token::Word(b"true" | b"false") => Obj::Bool,
            Token::Word(b"null") => Obj::Null,
            Token::Word(_) | Token::ArrayClose | Token::DictClose | Token::End => {
                return Err(damaged("an object is malformed"))
            }
        })
    }

    /// `n` is a plain integer unless `gen R` follows it. Looked ahead for byte by byte,
    /// not token by token: every integer asks.
    fn maybe_reference(&mut self, n: i64) -> Obj<'a> {
        let save = self.pos;
        let reference = (|| {
            let num = u32::try_from(n).ok()?;
            self.skip_white();
            let start = self.pos;
            let mut gen = 0u32;
            while let Some(d) = self.peek(self.pos).filter(|b| b.is_ascii_digit()) {
                gen = gen.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
                self.pos += 1;
            }
            let gen = u16::try_from(gen).ok().filter(|_| self.pos > start)?;
            self.keyword(b"R").then_some(Ref { num, gen })
        })();
        reference.map(Obj::Ref).unwrap_or_else(|| {
            self.pos = save;
            Obj::Int(n)
        })
    }

    /// Steps over a run of regular bytes (a number, a keyword or a name's body).
    fn regular_run(&mut self) {
        while self.peek(self.pos).is_some_and(is_regular) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<Token<'a>, Refusal> {
        self.skip_white();
        let Some(b) = self.peek(self.pos) else { return Ok(Token::End) };
        let start = self.pos;
        self.pos += 1;
        Ok(match b {
            b'[' => Token::ArrayOpen,
            b']' => Token::ArrayClose,
            b'<' if self.peek(self.pos) == Some(b'<') => {
                self.pos += 1;
                Token::DictOpen
            }
            b'>' if self.peek(self.pos) == Some(b'>') => {
                self.pos += 1;
                Token::DictClose
            }
            b'<' => match memchr::memchr(b'>', &self.data[self.pos..]) {
                Some(i) => {
                    self.pos += i + 1;
                    Token::Str
                }
                None => {
                    self.short = true;
                    return Err(damaged("a string is not closed"));
                }
            },
            b'(' => {
                self.literal_string()?;
                Token::Str
            }
            b'/' => {
                self.regular_run();
                Token::Name(&self.data[start + 1..self.pos])
            }
            b')' | b'>' | b'{' | b'}' => return Err(damaged("an object is malformed")),
            _ => {
                self.regular_run();
                number(&self.data[start..self.pos])
            }
        })
    }

    /// Steps over a `( … )` string: parentheses nest unless escaped.
    fn literal_string(&mut self) -> Result<(), Refusal> {
        let mut open = 1usize;
        while let Some(b) = self.peek(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'(' => open += 1,
                b')' => {
                    open -= 1;
                    if open == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err(damaged("a string is not closed"))
    }
}

fn number(word: &[u8]) -> Token<'_> {
    let (negative, digits) = match word {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, word),
    };
    let mut n: Option<i64> = Some(0);
    let (mut dots, mut figures) = (0, 0);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                figures += 1;
                n = n.and_then(|n| n.checked_mul(10)?.checked_add(i64::from(b - b'0')));
            }
            b'.' => dots += 1,
            _ => return Token::Word(word),
        }
    }
    match (figures, dots, n) {
        (0, _, _) | (_, 2.., _) => Token::Word(word),
        (_, 1, _) => Token::Real,
        (_, _, Some(n)) => Token::Int(if negative { -n } else { n }),
        // Integers too large for i64 are still numbers; nothing the counter reads needs them.
        (_, _, None) => Token::Real,
    }
}
