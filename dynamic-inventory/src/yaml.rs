//! YAML loading with the semantics of PyYAML's `yaml.safe_load` (YAML 1.1).
//!
//! The Python inventory reads its configuration with `yaml.safe_load`, and
//! operators' files rely on its YAML 1.1 behaviour (`yes`/`no`/`on`/`off` are
//! booleans, `017` is octal, `1:30` is sexagesimal, `<<` merges mappings, ...).
//! The event parser underneath, `saphyr-parser`, follows YAML 1.2, so only its
//! events are used here and everything above them is reimplemented after PyYAML:
//!
//! 1. *Composing* (`Composer`): the parser's events are turned into a graph of
//!    nodes. Aliases share the anchored node, tags of scalars are resolved with
//!    PyYAML's implicit resolvers. Undefined, duplicate and recursive anchors
//!    are reported here.
//! 2. *Constructing* (`Constructor`): the node graph is turned into a
//!    [`serde_json::Value`], with PyYAML's `SafeConstructor` rules for merge
//!    keys, duplicate keys and the construction of tagged scalars.
//!
//! `saphyr-parser` succeeds yaml-rust2 (in maintenance mode), whose scanner was
//! also run over the text for what events do not carry. saphyr-parser's scanner
//! is private, but its events are placed where PyYAML places its nodes (at their
//! first property), so anchor and alias names are read from the text there
//! (`Source`). Where its reading differs from PyYAML's, the difference is
//! undone above it: byte order marks inside the text (`StandIn`), anchor names
//! (`check_anchor_name`), characters PyYAML refuses (`check_printable`).
//!
//! Like PyYAML, every composing error is reported before any constructing
//! error. Values JSON cannot hold (infinite and NaN floats, integers beyond
//! 64 bits, binary data, sets, dates given with an explicit tag) are errors
//! rather than being silently altered.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use compact_str::CompactString;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Number, Value};

use crate::pyjson::python_float_repr;

/// Parses one YAML document. `Ok(None)` for an empty document (empty file, only comments, or an explicit null document).
pub fn load_str(text: &str) -> Result<Option<Value>, YamlError> {
    // PyYAML skips a byte order mark at the very start without counting it
    // as a column; the parser would count it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_printable(text)?;
    let stand_in = StandIn::for_text(text)?;
    let parsed = stand_in.hide(text);
    load_parsed(&parsed, stand_in).map_err(|mut error| {
        error.message = stand_in.restore(Cow::Owned(error.message)).into_owned();
        error
    })
}

fn load_parsed(text: &str, stand_in: StandIn) -> Result<Option<Value>, YamlError> {
    let mut composer = Composer::new(text, stand_in);
    let Some(root) = composer.compose_single_document()? else {
        return Ok(None);
    };
    let constructor = Constructor {
        nodes: &composer.nodes,
    };
    match constructor.construct(root)? {
        Value::Null => Ok(None),
        value => Ok(Some(value)),
    }
}

/// An error while loading YAML, located at a 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn new(mark: Mark, message: impl Into<String>) -> Self {
        YamlError {
            line: mark.line,
            column: mark.column,
            message: message.into(),
        }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// Widest quoted source line in an excerpt, in characters as shown; a longer line is
/// cut around the error's column.
const EXCERPT_WIDTH: usize = 120;

/// What is shown of a line cut short, at either end.
const CUT: &str = "...";

impl YamlError {
    /// The line of `text` where the error is and a caret under its column, as rustc and
    /// PyYAML show them, for the lines after the one-line message:
    ///
    /// ```text
    ///   12 |   foo: bar: baz
    ///      |           ^
    /// ```
    ///
    /// `text` is what was given to [`load_str`]. The quoted line is shown as the message
    /// is (control characters escaped, as `inventory_storage::one_line` does, and
    /// invisible formatting characters too), so that a file cannot put terminal escapes
    /// or line breaks on the operator's screen; the caret is placed under the escaped
    /// text. A line wider than 120 characters is cut around the column.
    pub fn excerpt(&self, text: &str) -> String {
        // Positions are counted as the reader counts them: without a byte order mark
        // at the start, lines ending at "\n", "\r\n" or "\r", columns in characters.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let line = text
            .split('\n')
            .flat_map(|line| {
                let line = line.strip_suffix('\r').unwrap_or(line);
                line.split('\r')
            })
            .nth(self.line.saturating_sub(1))
            .unwrap_or("");
        // Each character as shown, its width there, and where the caret goes.
        let shown: Vec<String> = line.chars().map(shown_char).collect();
        let widths: Vec<usize> = shown.iter().map(|piece| piece.chars().count()).collect();
        let at = self.column.saturating_sub(1).min(shown.len());
        let (mut first, mut last) = (0, shown.len());
        if widths.iter().sum::<usize>() > EXCERPT_WIDTH {
            // Up to half the room before the caret, the rest after it.
            let room = EXCERPT_WIDTH - 2 * CUT.len();
            let mut used = 0;
            first = at;
            while first > 0 && used + widths[first - 1] <= room / 2 {
                first -= 1;
                used += widths[first];
            }
            last = at;
            while last < shown.len() && used + widths[last] <= room {
                used += widths[last];
                last += 1;
            }
        }
        let mut quoted = String::new();
        if first > 0 {
            quoted.push_str(CUT);
        }
        let caret = CUT.len() * usize::from(first > 0) + widths[first..at].iter().sum::<usize>();
        quoted.extend(shown[first..last].iter().map(String::as_str));
        if last < shown.len() {
            quoted.push_str(CUT);
        }
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        let source = format!("  {number} | {quoted}");
        format!("{}\n  {gutter} | {}^", source.trim_end(), " ".repeat(caret))
    }
}

/// A character of a quoted source line as shown: control characters escaped as
/// `inventory_storage::one_line` escapes them (`\t`, `\u{1b}`), and so are the
/// invisible ones that could disguise the line (bidirectional overrides, zero-width
/// characters, line and paragraph separators, byte order marks).
fn shown_char(ch: char) -> String {
    let invisible = matches!(ch,
        '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}');
    if ch.is_control() || invisible {
        ch.escape_default().collect()
    } else {
        ch.to_string()
    }
}

/// Deepest nesting of sequences and mappings accepted, counting the nesting
/// brought in by aliases. A configuration value ends up in the stored inventory
/// a few levels deeper than in its file, and the stored inventory must stay
/// readable (JSON readers stop at 128 levels; `model::MAX_DEPTH`), so deeper
/// input is refused here, before anything is generated or written. (PyYAML
/// itself fails a little below 500 levels.)
const MAX_DEPTH: usize = 116;

/// Largest number of values a document may expand to once every alias is
/// replaced by a copy of its anchored value. Without it a few lines of nested
/// aliases ("billion laughs") would exhaust memory.
const MAX_EXPANDED_NODES: u64 = 10_000_000;

/// How many times more values than it is written with a document may expand to through
/// aliases, beyond [`EXPANSION_ALLOWANCE`]. Anchors in a deployment's configuration
/// share a few host lists or settings; an expansion a hundred times the text is a bomb,
/// and `global_overrides` would copy it into every host of the inventory.
const MAX_EXPANSION_RATIO: u64 = 100;

/// Values any document may expand to through aliases, whatever its size.
const EXPANSION_ALLOWANCE: u64 = 100_000;

const TAG_NULL: &str = "tag:yaml.org,2002:null";
const TAG_BOOL: &str = "tag:yaml.org,2002:bool";
const TAG_INT: &str = "tag:yaml.org,2002:int";
const TAG_FLOAT: &str = "tag:yaml.org,2002:float";
const TAG_STR: &str = "tag:yaml.org,2002:str";
const TAG_SEQ: &str = "tag:yaml.org,2002:seq";
const TAG_MAP: &str = "tag:yaml.org,2002:map";
const TAG_MERGE: &str = "tag:yaml.org,2002:merge";
/// The tag PyYAML gives a plain `=`. SafeConstructor has no constructor for
/// it, except as a mapping key, where it is read as a string.
const TAG_VALUE: &str = "tag:yaml.org,2002:value";

/// Tags PyYAML's SafeConstructor understands but whose values have no JSON
/// form; they get a clearer message than unknown tags.
const TAGS_WITHOUT_JSON_FORM: [&str; 5] = [
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
    "tag:yaml.org,2002:set",
];

/// A 1-based position in the text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mark {
    line: usize,
    column: usize,
}

impl From<&Marker> for Mark {
    fn from(marker: &Marker) -> Self {
        // The parser counts lines from 1 and columns from 0.
        Mark {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Rejects the characters PyYAML's reader refuses (its `NON_PRINTABLE`
/// class): control characters other than tab, line feed and carriage return,
/// C1 controls other than NEL, and U+FFFE/U+FFFF. The parser accepts most of them.
fn check_printable(text: &str) -> Result<(), YamlError> {
    let mut mark = Mark { line: 1, column: 1 };
    let mut previous = '\0';
    for ch in text.chars() {
        let printable = matches!(ch,
            '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}'
            | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
        if !printable {
            return Err(YamlError::new(
                mark,
                format!(
                    "unacceptable character #x{:04x}: special characters are not allowed",
                    u32::from(ch)
                ),
            ));
        }
        match ch {
            // A "\r\n" pair is one line break.
            '\n' if previous == '\r' => {}
            '\n' | '\r' => {
                mark.line += 1;
                mark.column = 1;
            }
            _ => mark.column += 1,
        }
        previous = ch;
    }
    Ok(())
}

/// PyYAML reads a byte order mark after the start of the text as an ordinary
/// character (`a: x\u{feff}y` is the string "x\u{feff}y", a line that starts with
/// one starts a key with it, as when files saved with one are concatenated),
/// where saphyr-parser ends scalars at it and refuses it inside a document. Such
/// marks are given to the parser as a stand-in, a private-use character the text
/// does not contain, which PyYAML and the parser both read as an ordinary
/// character; every value, name and message gets the mark back. Positions count
/// characters, so they do not move.
#[derive(Clone, Copy)]
struct StandIn(Option<char>);

impl StandIn {
    fn for_text(text: &str) -> Result<Self, YamlError> {
        if !text.contains('\u{feff}') {
            return Ok(StandIn(None));
        }
        let private_use = |ch: &char| matches!(ch, '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{ffffd}' | '\u{100000}'..='\u{10fffd}');
        let used: std::collections::HashSet<char> = text.chars().filter(private_use).collect();
        ('\u{e000}'..='\u{f8ff}')
            .chain('\u{f0000}'..='\u{ffffd}')
            .chain('\u{100000}'..='\u{10fffd}')
            .find(|ch| !used.contains(ch))
            .map(|ch| StandIn(Some(ch)))
            .ok_or_else(|| {
                YamlError::new(
                    Mark { line: 1, column: 1 },
                    "a byte order mark inside a text that also holds every private-use \
                     character cannot be read",
                )
            })
    }

    /// The text the parser reads.
    fn hide<'t>(self, text: &'t str) -> Cow<'t, str> {
        match self.0 {
            Some(stand_in) => {
                Cow::Owned(text.replace('\u{feff}', stand_in.encode_utf8(&mut [0; 4])))
            }
            None => Cow::Borrowed(text),
        }
    }

    /// Text from the parser, with its byte order marks back.
    fn restore(self, text: Cow<'_, str>) -> Cow<'_, str> {
        match self.0 {
            Some(stand_in) if text.contains(stand_in) => {
                Cow::Owned(text.replace(stand_in, "\u{feff}"))
            }
            _ => text,
        }
    }
}

/// Runs a step of the parser, turning a panic inside it (it has a few
/// internal `unwrap`s) into `None`: bad input must never bring the caller
/// down.
fn guarded<T>(step: impl FnOnce() -> T) -> Option<T> {
    panic::catch_unwind(AssertUnwindSafe(step)).ok()
}

/// The text being parsed, read again where the parser's events point, for what
/// the events do not carry: the names of anchors and aliases (events only carry
/// numeric ids) and where an anchor is written when a tag comes before it.
///
/// The parser places a node's event at its first property (anchor or tag), as
/// PyYAML places its nodes, and an alias's event on the alias; its positions
/// count characters, so `Source` keeps the byte offset of the last position it
/// looked at and walks from there (events come in order, so the walks add up to
/// one pass over the text at most, and only nodes with an anchor and aliases
/// are looked at).
struct Source<'a> {
    text: &'a str,
    stand_in: StandIn,
    /// A character index and its byte offset in `text`.
    cursor: (usize, usize),
}

impl<'a> Source<'a> {
    fn new(text: &'a str, stand_in: StandIn) -> Self {
        Source {
            text,
            stand_in,
            cursor: (0, 0),
        }
    }

    /// A name read from the text, with its byte order marks back.
    fn restored(&self, name: String) -> String {
        self.stand_in.restore(Cow::Owned(name)).into_owned()
    }

    /// The text from this position on (empty past the end).
    fn rest_at(&mut self, marker: &Marker) -> &'a str {
        let target = marker.index();
        let (mut chars, mut bytes) = self.cursor;
        if target >= chars {
            let mut forward = self.text[bytes..].char_indices();
            while chars < target {
                match forward.next() {
                    Some((_, ch)) => {
                        bytes += ch.len_utf8();
                        chars += 1;
                    }
                    None => break,
                }
            }
        } else {
            let mut backward = self.text[..bytes].chars().rev();
            while chars > target {
                match backward.next() {
                    Some(ch) => {
                        bytes -= ch.len_utf8();
                        chars -= 1;
                    }
                    None => break,
                }
            }
        }
        self.cursor = (chars, bytes);
        &self.text[bytes..]
    }

    /// The name of the alias or anchor whose `*` or `&` is at this position.
    fn name_at(&mut self, marker: &Marker) -> String {
        let rest = self.rest_at(marker);
        let mut chars = rest.chars();
        chars.next();
        self.restored(chars.take_while(|&ch| is_anchor_char(ch)).collect())
    }

    /// The anchor among the properties of a node that starts at this position:
    /// its name and where its `&` is. The anchor comes first, or after the tag
    /// and the blanks, line breaks and comments that must separate them.
    fn anchor_at(&mut self, start: &Marker) -> Option<(String, Mark)> {
        let rest = self.rest_at(start);
        let mut mark = Mark::from(start);
        let mut chars = rest.chars().peekable();
        if rest.starts_with('!') {
            // A tag ends at a blank or a line break when an anchor follows it.
            while chars.next_if(|&ch| !is_blank_or_break(ch)).is_some() {
                mark.column += 1;
            }
            let mut in_comment = false;
            loop {
                match chars.peek().copied()? {
                    '\r' | '\n' => {
                        if chars.next() == Some('\r') {
                            chars.next_if_eq(&'\n');
                        }
                        mark.line += 1;
                        mark.column = 1;
                        in_comment = false;
                        continue;
                    }
                    _ if in_comment => {}
                    ' ' | '\t' => {}
                    '#' => in_comment = true,
                    '&' => break,
                    _ => return None,
                }
                chars.next();
                mark.column += 1;
            }
        }
        if chars.next() != Some('&') {
            return None;
        }
        let name = chars.take_while(|&ch| is_anchor_char(ch)).collect();
        Some((self.restored(name), mark))
    }
}

fn is_blank_or_break(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\r' | '\n')
}

/// The characters the parser takes in an anchor or alias name (YAML 1.2's
/// `ns-anchor-char`, as saphyr-parser reads it): anything but blanks, line
/// breaks, the byte order mark and the flow indicators.
fn is_anchor_char(ch: char) -> bool {
    !matches!(
        ch,
        ' ' | '\t' | '\r' | '\n' | '\0' | '\u{feff}' | ',' | '[' | ']' | '{' | '}'
    )
}

type NodeId = usize;

/// A node of the document graph, as in PyYAML's composer.
struct Node {
    /// The resolved tag, e.g. `tag:yaml.org,2002:int` or `!vault`: borrowed for the
    /// standard tags, so that millions of scalars do not each allocate their tag.
    tag: Cow<'static, str>,
    kind: NodeKind,
    mark: Mark,
    /// How many sequences and mappings are nested in this node, itself
    /// included, once aliases are expanded (0 for a scalar).
    height: usize,
    /// Number of values this node expands to, aliases copied out.
    size: u64,
}

enum NodeKind {
    /// Inline up to 24 bytes: a configuration's scalars are mostly short, and millions of
    /// them would otherwise be as many allocations.
    Scalar(CompactString),
    Sequence(Vec<NodeId>),
    Mapping(Vec<(NodeId, NodeId)>),
    /// A sequence or mapping whose end has not been reached yet; an alias to
    /// it would make the value contain itself.
    Unfinished,
}

impl NodeKind {
    /// The name PyYAML uses for a node kind in its messages.
    fn name(&self) -> &'static str {
        match self {
            NodeKind::Scalar(_) => "scalar",
            NodeKind::Sequence(_) => "sequence",
            NodeKind::Mapping(_) | NodeKind::Unfinished => "mapping",
        }
    }
}

/// A sequence or mapping being composed.
enum Frame {
    Sequence {
        id: NodeId,
        items: Vec<NodeId>,
    },
    Mapping {
        id: NodeId,
        pairs: Vec<(NodeId, NodeId)>,
        key: Option<NodeId>,
    },
}

/// Turns the parser's events into a graph of `Node`s.
struct Composer<'a> {
    parser: Parser<'a, StrInput<'a>>,
    source: Source<'a>,
    stand_in: StandIn,
    nodes: Vec<Node>,
    /// Node of each anchor id seen so far.
    anchors: HashMap<usize, NodeId>,
    /// Where the node of each anchor name starts, to reject duplicates.
    anchor_names: HashMap<String, Mark>,
    /// Position of the last event, for errors that have no better place.
    last_mark: Mark,
    /// The alias that copied the most values so far (anchor name, values), to name it
    /// when the document expands too much.
    largest_alias: Option<(String, u64)>,
}

impl<'a> Composer<'a> {
    fn new(text: &'a str, stand_in: StandIn) -> Self {
        Composer {
            parser: Parser::new_from_str(text),
            source: Source::new(text, stand_in),
            stand_in,
            nodes: Vec::new(),
            anchors: HashMap::new(),
            anchor_names: HashMap::new(),
            last_mark: Mark { line: 1, column: 1 },
            largest_alias: None,
        }
    }

    /// The next event and where it starts: for a node, at its first property.
    fn next_event(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        let parser = &mut self.parser;
        match guarded(|| parser.next_event()) {
            Some(Some(Ok((event, span)))) => {
                self.last_mark = Mark::from(&span.start);
                Ok((event, span))
            }
            Some(Some(Err(error))) => Err(self.parser_error(&error)),
            // After the end of the stream, which is never asked for.
            Some(None) => Err(YamlError::new(
                self.last_mark,
                "unexpected end of the YAML stream",
            )),
            None => Err(YamlError::new(
                self.last_mark,
                "internal error of the YAML parser",
            )),
        }
    }

    fn parser_error(&mut self, error: &ScanError) -> YamlError {
        let mark = Mark::from(error.marker());
        // The parser does not say which alias is unknown; it reports the error at
        // the alias, where its name is written.
        if error.info().contains("unknown anchor") {
            let name = self.source.name_at(error.marker());
            return YamlError::new(mark, format!("found undefined alias '{name}'"));
        }
        YamlError::new(mark, error.info())
    }

    /// Composes the stream, which must hold at most one document. `None`
    /// when it holds none (empty text or only comments).
    fn compose_single_document(&mut self) -> Result<Option<NodeId>, YamlError> {
        match self.next_event()? {
            (Event::StreamStart, _) => {}
            (event, span) => return Err(unexpected(&event, &span)),
        }
        let root = match self.next_event()? {
            (Event::StreamEnd, _) => return Ok(None),
            (Event::DocumentStart(_), _) => self.compose_root()?,
            (event, span) => return Err(unexpected(&event, &span)),
        };
        match self.next_event()? {
            (Event::DocumentEnd, _) => {}
            (event, span) => return Err(unexpected(&event, &span)),
        }
        match self.next_event()? {
            (Event::StreamEnd, _) => Ok(Some(root)),
            (Event::DocumentStart(_), span) => Err(YamlError::new(
                Mark::from(&span.start),
                "expected a single document in the stream, but found another document",
            )),
            (event, span) => Err(unexpected(&event, &span)),
        }
    }

    /// Composes the node of a document, from its first event to its last.
    /// Iterative, so that deep nesting cannot overflow the stack here.
    fn compose_root(&mut self) -> Result<NodeId, YamlError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let (event, span) = self.next_event()?;
            let node = match event {
                Event::Scalar(value, style, anchor, tag) => {
                    let value = self.stand_in.restore(value);
                    let tag = resolve_scalar_tag(&value, style, tag.as_deref());
                    let tag = self.restore_tag(tag);
                    let id = self.add_node(Node {
                        tag,
                        kind: NodeKind::Scalar(CompactString::from(value)),
                        mark: Mark::from(&span.start),
                        height: 0,
                        size: 1,
                    });
                    self.register_anchor(anchor, id, &span)?;
                    id
                }
                Event::SequenceStart(anchor, tag) => {
                    let tag = self.restore_tag(container_tag(tag.as_deref(), TAG_SEQ));
                    let id = self.start_container(anchor, tag, &span, stack.len())?;
                    stack.push(Frame::Sequence {
                        id,
                        items: Vec::new(),
                    });
                    continue;
                }
                Event::MappingStart(anchor, tag) => {
                    let tag = self.restore_tag(container_tag(tag.as_deref(), TAG_MAP));
                    let id = self.start_container(anchor, tag, &span, stack.len())?;
                    stack.push(Frame::Mapping {
                        id,
                        pairs: Vec::new(),
                        key: None,
                    });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(frame) => self.finish(frame, &event, &span)?,
                    None => return Err(unexpected(&event, &span)),
                },
                Event::Alias(anchor) => self.resolve_alias(anchor, &span)?,
                event => return Err(unexpected(&event, &span)),
            };
            match stack.last_mut() {
                None => return Ok(node),
                Some(Frame::Sequence { items, .. }) => items.push(node),
                Some(Frame::Mapping { pairs, key, .. }) => match key.take() {
                    None => *key = Some(node),
                    Some(key_node) => pairs.push((key_node, node)),
                },
            }
        }
    }

    /// Adds the node of a sequence or mapping at its start event, so that
    /// its anchor is known (and an alias to it detected as recursive).
    fn start_container(
        &mut self,
        anchor: usize,
        tag: Cow<'static, str>,
        span: &Span,
        depth: usize,
    ) -> Result<NodeId, YamlError> {
        let mark = Mark::from(&span.start);
        if depth >= MAX_DEPTH {
            return Err(too_deep(mark));
        }
        let id = self.add_node(Node {
            tag,
            kind: NodeKind::Unfinished,
            mark,
            height: 1,
            size: 1,
        });
        self.register_anchor(anchor, id, span)?;
        Ok(id)
    }

    /// A resolved tag, with its byte order marks back (the standard tags have none).
    fn restore_tag(&self, tag: Cow<'static, str>) -> Cow<'static, str> {
        match tag {
            Cow::Owned(tag) => Cow::Owned(self.stand_in.restore(Cow::Owned(tag)).into_owned()),
            borrowed => borrowed,
        }
    }

    fn add_node(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Completes a sequence or mapping at its end event.
    fn finish(&mut self, frame: Frame, event: &Event, span: &Span) -> Result<NodeId, YamlError> {
        let (id, kind, height, size) = match frame {
            Frame::Sequence { id, items } if matches!(event, Event::SequenceEnd) => {
                let (height, size) = self.extent(items.iter().copied());
                (id, NodeKind::Sequence(items), height, size)
            }
            Frame::Mapping {
                id,
                pairs,
                key: None,
            } if matches!(event, Event::MappingEnd) => {
                let (height, size) = self.extent(pairs.iter().flat_map(|&(k, v)| [k, v]));
                (id, NodeKind::Mapping(pairs), height, size)
            }
            _ => return Err(unexpected(event, span)),
        };
        let written = self.nodes.len() as u64;
        let largest_alias = self.largest_alias.clone();
        let Some(node) = self.nodes.get_mut(id) else {
            return Err(unexpected(event, span));
        };
        if height > MAX_DEPTH {
            return Err(too_deep(node.mark));
        }
        if size > MAX_EXPANDED_NODES {
            return Err(YamlError::new(
                node.mark,
                format!(
                    "the document expands to more than {MAX_EXPANDED_NODES} values \
                     once aliases are copied out"
                ),
            ));
        }
        let allowed = EXPANSION_ALLOWANCE.max(written.saturating_mul(MAX_EXPANSION_RATIO));
        if size > allowed {
            let (anchor, copied) = largest_alias.unwrap_or_default();
            return Err(YamlError::new(
                node.mark,
                format!(
                    "aliases expand this value to {size} values, more than \
                     {MAX_EXPANSION_RATIO} times the {written} the document is written with \
                     (alias '*{anchor}' copies {copied} values each time)"
                ),
            ));
        }
        node.kind = kind;
        node.height = height;
        node.size = size;
        Ok(id)
    }

    /// The height and expanded size of a collection with these children.
    /// An alias can bring a deep or large structure below a shallow one, so
    /// both are measured on the expanded graph, not only on the text.
    fn extent(&self, children: impl Iterator<Item = NodeId>) -> (usize, u64) {
        let mut height = 0;
        let mut size: u64 = 1;
        for child in children.filter_map(|child| self.nodes.get(child)) {
            height = height.max(child.height);
            size = size.saturating_add(child.size);
        }
        (height + 1, size)
    }

    /// Registers the anchor of a node that starts at `span`, if it has one.
    fn register_anchor(
        &mut self,
        anchor: usize,
        node: NodeId,
        span: &Span,
    ) -> Result<(), YamlError> {
        if anchor == 0 {
            return Ok(());
        }
        if let Some((name, anchor_mark)) = self.source.anchor_at(&span.start) {
            check_anchor_name(&name, anchor_mark)?;
            // PyYAML places both occurrences where their nodes start, at their first
            // property.
            let mark = Mark::from(&span.start);
            match self.anchor_names.entry(name) {
                Entry::Occupied(first) => {
                    return Err(YamlError::new(
                        mark,
                        format!(
                            "found duplicate anchor '{}'; first occurrence at {}",
                            first.key(),
                            first.get()
                        ),
                    ));
                }
                Entry::Vacant(entry) => {
                    entry.insert(mark);
                }
            }
        }
        self.anchors.insert(anchor, node);
        Ok(())
    }

    fn resolve_alias(&mut self, anchor: usize, span: &Span) -> Result<NodeId, YamlError> {
        let mark = Mark::from(&span.start);
        let name = self.source.name_at(&span.start);
        let copied = self
            .anchors
            .get(&anchor)
            .and_then(|&id| self.nodes.get(id))
            .map_or(0, |node| node.size);
        match self.anchors.get(&anchor) {
            Some(&id) => match self.nodes.get(id) {
                Some(Node {
                    kind: NodeKind::Unfinished,
                    ..
                }) => Err(YamlError::new(
                    mark,
                    format!(
                        "found recursive alias '{name}': a value containing itself cannot be represented"
                    ),
                )),
                _ => {
                    if self.largest_alias.as_ref().is_none_or(|(_, n)| copied > *n) {
                        self.largest_alias = Some((name, copied));
                    }
                    Ok(id)
                }
            },
            None => Err(YamlError::new(
                mark,
                format!("found undefined alias '{name}'"),
            )),
        }
    }
}

/// PyYAML (YAML 1.1) reads anchor names made of ASCII letters, digits, `-`
/// and `_` only, where the parser (YAML 1.2) takes any character but blanks and
/// the flow indicators. PyYAML rejects most of the difference (`&a.b`), but reads
/// `&name:` as the anchor `name` followed by `:`, a different document from
/// the one the parser sees; both are refused here.
fn check_anchor_name(name: &str, mark: Mark) -> Result<(), YamlError> {
    let invalid = name
        .chars()
        .enumerate()
        .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
    match invalid {
        None => Ok(()),
        Some((index, ch)) => Err(YamlError::new(
            // The name starts after the `&`.
            Mark {
                line: mark.line,
                column: mark.column + 1 + index,
            },
            format!(
                "while scanning an anchor, expected alphabetic or numeric character, \
                 but found {ch:?}"
            ),
        )),
    }
}

fn unexpected(event: &Event, span: &Span) -> YamlError {
    YamlError::new(
        Mark::from(&span.start),
        format!("unexpected YAML event {event:?}"),
    )
}

fn too_deep(mark: Mark) -> YamlError {
    YamlError::new(
        mark,
        format!("sequences and mappings are nested more than {MAX_DEPTH} levels deep"),
    )
}

// ---------------------------------------------------------------------------
// Tag resolution (PyYAML's `Resolver`).
// ---------------------------------------------------------------------------

/// The full text of a tag: `!!str` is `tag:yaml.org,2002:str`, `!vault`
/// stays `!vault`, `!<...>` is its content.
fn full_tag(tag: &Tag) -> Cow<'static, str> {
    Cow::Owned(format!("{}{}", tag.handle, tag.suffix))
}

/// The non-specific tag `!`: PyYAML resolves such a node as if it had no
/// tag, and for a scalar it does so by content even when the scalar is
/// quoted (`! "123"` is the integer 123).
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

fn container_tag(tag: Option<&Tag>, default: &'static str) -> Cow<'static, str> {
    match tag {
        Some(tag) if !is_non_specific(tag) => full_tag(tag),
        _ => Cow::Borrowed(default),
    }
}

fn resolve_scalar_tag(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Cow<'static, str> {
    match tag {
        Some(tag) if !is_non_specific(tag) => full_tag(tag),
        Some(_) => Cow::Borrowed(implicit_scalar_tag(value)),
        // Only plain scalars are resolved by content; quoted and block
        // scalars are always strings.
        None if style == ScalarStyle::Plain => Cow::Borrowed(implicit_scalar_tag(value)),
        None => Cow::Borrowed(TAG_STR),
    }
}

/// PyYAML's implicit resolvers, tried in the order it registers them. The
/// patterns are disjoint, so the order only documents the correspondence.
///
/// The timestamp resolver is left out on purpose: dates cannot go into JSON,
/// and a timestamp would never match one of the other patterns, so leaving it
/// out keeps such scalars as the strings they are written as.
fn implicit_scalar_tag(value: &str) -> &'static str {
    if is_bool(value) {
        TAG_BOOL
    } else if is_float(value) {
        TAG_FLOAT
    } else if is_int(value) {
        TAG_INT
    } else if value == "<<" {
        TAG_MERGE
    } else if matches!(value, "" | "~" | "null" | "Null" | "NULL") {
        TAG_NULL
    } else if value == "=" {
        TAG_VALUE
    } else {
        TAG_STR
    }
}

/// `yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF`
fn is_bool(value: &str) -> bool {
    matches!(
        value,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// A cursor over the bytes of a scalar, for matching PyYAML's patterns
/// without a regex engine. All the patterns are ASCII.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            rest: text.as_bytes(),
        }
    }

    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Consumes one byte if it satisfies `accept`.
    fn eat(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        match self.rest.split_first() {
            Some((&byte, rest)) if accept(byte) => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    fn eat_byte(&mut self, wanted: u8) -> bool {
        self.eat(|byte| byte == wanted)
    }

    /// Consumes as many bytes satisfying `accept` as there are; returns how
    /// many.
    fn eat_all(&mut self, accept: impl Fn(u8) -> bool) -> usize {
        let count = self.rest.iter().take_while(|&&byte| accept(byte)).count();
        self.rest = &self.rest[count..];
        count
    }

    fn eat_str(&mut self, wanted: &str) -> bool {
        match self.rest.strip_prefix(wanted.as_bytes()) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// `[-+]?`
    fn eat_sign(&mut self) {
        self.eat(|byte| byte == b'-' || byte == b'+');
    }

    /// `[0-9][0-9_]*`
    fn eat_digits_underscores(&mut self) -> bool {
        self.eat(is_digit) && {
            self.eat_all(is_digit_or_underscore);
            true
        }
    }

    /// `[1-9][0-9_]*`
    fn eat_nonzero_digits_underscores(&mut self) -> bool {
        self.eat(|byte| (b'1'..=b'9').contains(&byte)) && {
            self.eat_all(is_digit_or_underscore);
            true
        }
    }

    /// `(:[0-5]?[0-9])+`, the sexagesimal groups. Whatever follows a group
    /// (`:`, `.` or the end) is never a digit, so taking two digits whenever
    /// the pattern allows is what the backtracking regex would do.
    fn eat_sexagesimal_groups(&mut self) -> bool {
        let mut groups = 0;
        while self.eat_byte(b':') {
            match self.rest {
                [b'0'..=b'5', second, ..] if is_digit(*second) => self.rest = &self.rest[2..],
                [digit, ..] if is_digit(*digit) => self.rest = &self.rest[1..],
                _ => return false,
            }
            groups += 1;
        }
        groups > 0
    }

    /// `([eE][-+][0-9]+)?`: YAML 1.1 wants a sign in the exponent.
    fn eat_optional_exponent(&mut self) -> bool {
        if self.eat(|byte| byte == b'e' || byte == b'E') {
            self.eat(|byte| byte == b'-' || byte == b'+') && self.eat_all(is_digit) > 0
        } else {
            true
        }
    }
}

fn is_digit(byte: u8) -> bool {
    byte.is_ascii_digit()
}

fn is_digit_or_underscore(byte: u8) -> bool {
    byte.is_ascii_digit() || byte == b'_'
}

/// PyYAML's int pattern:
///
/// ```text
/// [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*)
/// | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+
/// ```
fn is_int(value: &str) -> bool {
    let mut start = Cursor::new(value);
    start.eat_sign();

    let binary = |mut c: Cursor| {
        c.eat_str("0b") && c.eat_all(|b| b == b'0' || b == b'1' || b == b'_') > 0 && c.at_end()
    };
    let octal = |mut c: Cursor| {
        c.eat_byte(b'0') && c.eat_all(|b| (b'0'..=b'7').contains(&b) || b == b'_') > 0 && c.at_end()
    };
    let decimal =
        |mut c: Cursor| (c.eat_byte(b'0') || c.eat_nonzero_digits_underscores()) && c.at_end();
    let hexadecimal = |mut c: Cursor| {
        c.eat_str("0x") && c.eat_all(|b| b.is_ascii_hexdigit() || b == b'_') > 0 && c.at_end()
    };
    let sexagesimal = |mut c: Cursor| {
        c.eat_nonzero_digits_underscores() && c.eat_sexagesimal_groups() && c.at_end()
    };
    binary(start) || octal(start) || decimal(start) || hexadecimal(start) || sexagesimal(start)
}

/// PyYAML's float pattern:
///
/// ```text
/// [-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)?
/// | \.[0-9][0-9_]*([eE][-+][0-9]+)?
/// | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
/// | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
/// ```
///
/// Note that the second form has no sign (`-.5` is a string) and that an
/// exponent needs both a dot and a sign (`1e5` and `1.0e5` are strings).
fn is_float(value: &str) -> bool {
    let fixed = |mut c: Cursor| {
        c.eat_sign();
        c.eat_digits_underscores()
            && c.eat_byte(b'.')
            && {
                c.eat_all(is_digit_or_underscore);
                c.eat_optional_exponent()
            }
            && c.at_end()
    };
    let leading_dot = |mut c: Cursor| {
        c.eat_byte(b'.') && c.eat_digits_underscores() && c.eat_optional_exponent() && c.at_end()
    };
    let sexagesimal = |mut c: Cursor| {
        c.eat_sign();
        c.eat_digits_underscores() && c.eat_sexagesimal_groups() && c.eat_byte(b'.') && {
            c.eat_all(is_digit_or_underscore);
            c.at_end()
        }
    };
    let infinity = |mut c: Cursor| {
        c.eat_sign();
        c.eat_byte(b'.') && (c.eat_str("inf") || c.eat_str("Inf") || c.eat_str("INF")) && c.at_end()
    };
    let nan = |mut c: Cursor| {
        c.eat_byte(b'.') && (c.eat_str("nan") || c.eat_str("NaN") || c.eat_str("NAN")) && c.at_end()
    };
    // Every form starts with a sign, a digit or a dot.
    if !matches!(
        Cursor::new(value).peek(),
        Some(b'-' | b'+' | b'.' | b'0'..=b'9')
    ) {
        return false;
    }
    fixed(Cursor::new(value))
        || leading_dot(Cursor::new(value))
        || sexagesimal(Cursor::new(value))
        || infinity(Cursor::new(value))
        || nan(Cursor::new(value))
}

// ---------------------------------------------------------------------------
// Construction (PyYAML's `SafeConstructor`).
// ---------------------------------------------------------------------------

/// Builds values from the composed node graph.
///
/// Construction and merge flattening use explicit stacks instead of
/// recursion, so that nesting (bounded by `MAX_DEPTH`) cannot overflow the
/// thread's stack.
struct Constructor<'a> {
    nodes: &'a [Node],
}

/// A sequence or mapping under construction.
enum Building<'a> {
    Sequence {
        items: std::slice::Iter<'a, NodeId>,
        values: Vec<Value>,
    },
    Mapping {
        pairs: std::vec::IntoIter<(NodeId, NodeId)>,
        entries: MappingBuilder,
        /// The key whose value is being constructed.
        key: Option<(KeyIdentity, String)>,
    },
}

impl Building<'_> {
    /// Takes the value of the child returned by the last `next_child`.
    fn accept(&mut self, value: Value) {
        match self {
            Building::Sequence { values, .. } => values.push(value),
            Building::Mapping { entries, key, .. } => {
                if let Some((identity, text)) = key.take() {
                    entries.insert(identity, text, value);
                }
            }
        }
    }

    fn finish(self) -> Value {
        match self {
            Building::Sequence { values, .. } => Value::Array(values),
            Building::Mapping { entries, .. } => entries.finish(),
        }
    }
}

/// The entries of a mapping, inserted as into a Python dict: a repeated key
/// takes the later value but keeps its first position. Keys are compared as
/// Python compares them (`1`, `1.0` and `true` are the same key); the first
/// one inserted gives the JSON text.
#[derive(Default)]
struct MappingBuilder {
    positions: HashMap<KeyIdentity, usize>,
    entries: Vec<(String, Value)>,
}

impl MappingBuilder {
    fn insert(&mut self, identity: KeyIdentity, text: String, value: Value) {
        match self.positions.entry(identity) {
            Entry::Occupied(position) => {
                if let Some(entry) = self.entries.get_mut(*position.get()) {
                    entry.1 = value;
                }
            }
            Entry::Vacant(position) => {
                position.insert(self.entries.len());
                self.entries.push((text, value));
            }
        }
    }

    fn finish(self) -> Value {
        // Different Python keys can have the same JSON text (`1` and `'1'`);
        // `json.dumps` would then write the key twice and a JSON reader
        // keeps the last value. A Map keeps the first position and the last
        // value.
        let mut map = Map::with_capacity(self.entries.len());
        for (key, value) in self.entries {
            map.insert(key, value);
        }
        Value::Object(map)
    }
}

impl<'a> Constructor<'a> {
    fn node(&self, id: NodeId) -> Result<&'a Node, YamlError> {
        self.nodes.get(id).ok_or_else(|| {
            YamlError::new(
                Mark { line: 1, column: 1 },
                "internal error: dangling YAML node",
            )
        })
    }

    /// Builds the value of a node and everything below it.
    fn construct(&self, root: NodeId) -> Result<Value, YamlError> {
        let mut stack: Vec<Building<'a>> = Vec::new();
        // A finished value to hand to the innermost collection being built.
        let mut finished = self.start(root, &mut stack)?;
        loop {
            let Some(top) = stack.last_mut() else {
                return finished.ok_or_else(|| {
                    YamlError::new(Mark { line: 1, column: 1 }, "internal error: no value")
                });
            };
            if let Some(value) = finished.take() {
                top.accept(value);
            }
            finished = match self.next_child(top)? {
                Some(child) => self.start(child, &mut stack)?,
                None => stack.pop().map(Building::finish),
            };
        }
    }

    /// Starts constructing a node: a scalar gives its value at once, a
    /// sequence or mapping is pushed on `stack` and gives `None`.
    fn start(&self, id: NodeId, stack: &mut Vec<Building<'a>>) -> Result<Option<Value>, YamlError> {
        let node = self.node(id)?;
        match node.tag.as_ref() {
            TAG_SEQ => match &node.kind {
                NodeKind::Sequence(items) => {
                    stack.push(Building::Sequence {
                        items: items.iter(),
                        values: Vec::with_capacity(items.len()),
                    });
                    Ok(None)
                }
                kind => Err(expected_kind("a sequence", kind, node.mark)),
            },
            TAG_MAP => {
                let pairs = self.flatten_mapping(id)?;
                stack.push(Building::Mapping {
                    pairs: pairs.into_iter(),
                    entries: MappingBuilder::default(),
                    key: None,
                });
                Ok(None)
            }
            _ => self.construct_scalar(node).map(Some),
        }
    }

    /// The next child of a collection whose value is wanted. For a mapping,
    /// the key is constructed here (keys are scalars) and kept pending.
    fn next_child(&self, building: &mut Building<'a>) -> Result<Option<NodeId>, YamlError> {
        match building {
            Building::Sequence { items, .. } => Ok(items.next().copied()),
            Building::Mapping { pairs, key, .. } => match pairs.next() {
                Some((key_id, value_id)) => {
                    *key = Some(self.construct_key(key_id)?);
                    Ok(Some(value_id))
                }
                None => Ok(None),
            },
        }
    }

    /// The value of a node whose tag is not `!!seq` or `!!map`.
    fn construct_scalar(&self, node: &Node) -> Result<Value, YamlError> {
        match node.tag.as_ref() {
            TAG_NULL => {
                expect_scalar(node)?;
                Ok(Value::Null)
            }
            TAG_BOOL => construct_bool(expect_scalar(node)?, node.mark),
            TAG_INT => construct_int(expect_scalar(node)?, node.mark),
            TAG_FLOAT => construct_float(expect_scalar(node)?, node.mark),
            TAG_STR => Ok(Value::String(expect_scalar(node)?.to_owned())),
            tag if TAGS_WITHOUT_JSON_FORM.contains(&tag) => Err(YamlError::new(
                node.mark,
                format!("the tag '{tag}' is not supported: its value has no JSON form"),
            )),
            tag => Err(YamlError::new(
                node.mark,
                format!("could not determine a constructor for the tag '{tag}'"),
            )),
        }
    }

    /// A mapping key: its identity as a Python dict key and its JSON text.
    fn construct_key(&self, id: NodeId) -> Result<(KeyIdentity, String), YamlError> {
        let node = self.node(id)?;
        let unhashable = || {
            YamlError::new(
                node.mark,
                "while constructing a mapping, found unhashable key \
                 (a sequence or mapping cannot be a key)",
            )
        };
        let key = match (&node.kind, node.tag.as_ref()) {
            // PyYAML's flatten_mapping reads a `=` key as a string.
            (NodeKind::Scalar(text), TAG_VALUE) => Value::String(text.to_string()),
            // A Python list or dict cannot be a dict key.
            (NodeKind::Sequence(_) | NodeKind::Mapping(_), TAG_SEQ | TAG_MAP) => {
                return Err(unhashable());
            }
            _ => self.construct_scalar(node)?,
        };
        let identity = KeyIdentity::of(&key).ok_or_else(unhashable)?;
        Ok((identity, json_key(&key)))
    }

    /// The key/value pairs of a mapping after PyYAML's `flatten_mapping`:
    /// the pairs brought by merge keys (`<<`) come first, in the order of
    /// the merge keys, followed by the mapping's own pairs.
    ///
    /// A merge value is a mapping, or a sequence of mappings which are taken
    /// in reverse order (so that, once later pairs overwrite earlier ones,
    /// the first mapping of the sequence wins). Merged mappings are flattened
    /// the same way first. Duplicates are left in: the caller inserts the
    /// pairs in order.
    fn flatten_mapping(&self, id: NodeId) -> Result<Vec<(NodeId, NodeId)>, YamlError> {
        enum Task {
            /// Emit the merged pairs of a mapping, then its own pairs.
            Flatten(NodeId),
            /// Emit the pairs of a mapping that are not merge keys.
            Own(NodeId),
        }
        let mut flattened = Vec::new();
        let mut tasks = vec![Task::Flatten(id)];
        while let Some(task) = tasks.pop() {
            match task {
                Task::Own(id) => {
                    for &(key, value) in self.mapping_pairs(id)? {
                        if self.node(key)?.tag != TAG_MERGE {
                            flattened.push((key, value));
                        }
                    }
                }
                Task::Flatten(id) => {
                    // The merged mappings, in the order their pairs come.
                    let mut sources = Vec::new();
                    for &(key, value) in self.mapping_pairs(id)? {
                        if self.node(key)?.tag == TAG_MERGE {
                            self.merge_sources(value, &mut sources)?;
                        }
                    }
                    // Last in, first out: the first source is done first,
                    // the mapping's own pairs last.
                    tasks.push(Task::Own(id));
                    tasks.extend(sources.into_iter().rev().map(Task::Flatten));
                }
            }
        }
        Ok(flattened)
    }

    /// Adds the mappings a merge key's value brings, in the order their
    /// pairs come.
    fn merge_sources(&self, value: NodeId, sources: &mut Vec<NodeId>) -> Result<(), YamlError> {
        let node = self.node(value)?;
        match &node.kind {
            NodeKind::Mapping(_) => sources.push(value),
            NodeKind::Sequence(items) => {
                for &item in items {
                    let item_node = self.node(item)?;
                    if !matches!(item_node.kind, NodeKind::Mapping(_)) {
                        return Err(YamlError::new(
                            item_node.mark,
                            format!(
                                "while constructing a mapping, expected a mapping for \
                                 merging, but found {}",
                                item_node.kind.name()
                            ),
                        ));
                    }
                }
                sources.extend(items.iter().rev());
            }
            kind => {
                return Err(YamlError::new(
                    node.mark,
                    format!(
                        "while constructing a mapping, expected a mapping or list of \
                         mappings for merging, but found {}",
                        kind.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn mapping_pairs(&self, id: NodeId) -> Result<&'a [(NodeId, NodeId)], YamlError> {
        let node = self.node(id)?;
        match &node.kind {
            NodeKind::Mapping(pairs) => Ok(pairs),
            kind => Err(expected_kind("a mapping", kind, node.mark)),
        }
    }
}

fn expect_scalar(node: &Node) -> Result<&str, YamlError> {
    match &node.kind {
        NodeKind::Scalar(text) => Ok(text),
        kind => Err(expected_kind("a scalar", kind, node.mark)),
    }
}

fn expected_kind(expected: &str, found: &NodeKind, mark: Mark) -> YamlError {
    YamlError::new(
        mark,
        format!("expected {expected} node, but found {}", found.name()),
    )
}

/// A mapping key as a Python dict sees it: `True == 1 == 1.0`, `-0.0 == 0`.
#[derive(PartialEq, Eq, Hash)]
enum KeyIdentity {
    Null,
    Str(String),
    /// Booleans, integers and floats with an integral value.
    Int(i128),
    /// Other floats, by their bits.
    Float(u64),
}

impl KeyIdentity {
    /// `None` for sequences and mappings, which Python cannot hash.
    fn of(key: &Value) -> Option<Self> {
        Some(match key {
            Value::Null => KeyIdentity::Null,
            Value::Bool(flag) => KeyIdentity::Int(i128::from(*flag)),
            Value::String(text) => KeyIdentity::Str(text.clone()),
            Value::Number(number) => {
                if let Some(int) = number.as_i64() {
                    KeyIdentity::Int(i128::from(int))
                } else if let Some(int) = number.as_u64() {
                    KeyIdentity::Int(i128::from(int))
                } else {
                    let float = number.as_f64().unwrap_or(f64::NAN);
                    // Below 1e30 (about 2^100) an integral float converts to i128
                    // exactly.
                    if float.fract() == 0.0 && float.abs() < 1e30 {
                        KeyIdentity::Int(float as i128)
                    } else {
                        KeyIdentity::Float(float.to_bits())
                    }
                }
            }
            Value::Array(_) | Value::Object(_) => return None,
        })
    }
}

/// The text `json.dumps` writes for a dict key.
fn json_key(key: &Value) -> String {
    match key {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::String(text) => text.clone(),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => python_float_repr(float),
            _ => number.to_string(),
        },
        // Rejected by the caller before; kept total for safety.
        Value::Array(_) | Value::Object(_) => key.to_string(),
    }
}

/// `construct_yaml_bool`: the lower-cased text must be one of PyYAML's
/// boolean words (with an explicit `!!bool`, `yEs` is accepted too).
fn construct_bool(text: &str, mark: Mark) -> Result<Value, YamlError> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(Value::Bool(true)),
        "no" | "false" | "off" => Ok(Value::Bool(false)),
        _ => Err(YamlError::new(
            mark,
            format!("invalid boolean value '{text}'"),
        )),
    }
}

/// Splits PyYAML's optional sign off a number: `(-1 or 1, rest)`.
fn split_sign(text: &str) -> (i8, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (-1, rest)
    } else {
        (1, text.strip_prefix('+').unwrap_or(text))
    }
}

/// `construct_yaml_int`: underscores are dropped, then `0b` is binary, `0x`
/// hexadecimal, a leading `0` octal, `:` sexagesimal, anything else decimal.
fn construct_int(text: &str, mark: Mark) -> Result<Value, YamlError> {
    let invalid = || YamlError::new(mark, format!("invalid integer value '{text}'"));
    let too_large = || {
        YamlError::new(
            mark,
            format!("integer value '{text}' does not fit in 64 bits"),
        )
    };
    let cleaned = text.replace('_', "");
    let (sign, body) = split_sign(&cleaned);
    let parse = |digits: &str, radix: u32| match python_int(digits, radix) {
        Ok(value) => Ok(value),
        Err(IntError::Invalid) => Err(invalid()),
        Err(IntError::TooLarge) => Err(too_large()),
    };
    let magnitude = if body.is_empty() {
        return Err(invalid());
    } else if body == "0" {
        0
    } else if let Some(digits) = body.strip_prefix("0b") {
        parse(digits, 2)?
    } else if let Some(digits) = body.strip_prefix("0x") {
        parse(digits, 16)?
    } else if body.starts_with('0') {
        parse(body, 8)?
    } else if body.contains(':') {
        // Base 60, most significant part first: 1:30 is 90.
        let mut total: i128 = 0;
        for part in body.split(':') {
            let digit = parse(part, 10)?;
            total = total
                .checked_mul(60)
                .and_then(|total| total.checked_add(digit))
                .ok_or_else(too_large)?;
        }
        total
    } else {
        parse(body, 10)?
    };
    let value = magnitude
        .checked_mul(i128::from(sign))
        .ok_or_else(too_large)?;
    if let Ok(value) = i64::try_from(value) {
        Ok(Value::from(value))
    } else if let Ok(value) = u64::try_from(value) {
        Ok(Value::from(value))
    } else {
        Err(too_large())
    }
}

enum IntError {
    Invalid,
    TooLarge,
}

/// Python's `int(text, radix)`: surrounding whitespace and a sign are
/// allowed, as is the prefix of the radix (`int('0o17', 8)` is 15).
fn python_int(text: &str, radix: u32) -> Result<i128, IntError> {
    let (sign, body) = split_sign(text.trim());
    let prefix = match radix {
        2 => ["0b", "0B"],
        8 => ["0o", "0O"],
        16 => ["0x", "0X"],
        _ => ["", ""],
    };
    let digits = prefix
        .iter()
        .filter(|prefix| !prefix.is_empty())
        .find_map(|prefix| body.strip_prefix(prefix))
        .unwrap_or(body);
    if digits.is_empty() {
        return Err(IntError::Invalid);
    }
    let mut value: i128 = 0;
    for ch in digits.chars() {
        let digit = ch.to_digit(radix).ok_or(IntError::Invalid)?;
        value = value
            .checked_mul(i128::from(radix))
            .and_then(|value| value.checked_add(i128::from(digit)))
            .ok_or(IntError::TooLarge)?;
    }
    Ok(if sign < 0 { -value } else { value })
}

/// `construct_yaml_float`: underscores are dropped and the text lower-cased;
/// `.inf` and `.nan` are special, `:` is sexagesimal, anything else goes to
/// Python's `float()`. Infinite and NaN results have no JSON form.
fn construct_float(text: &str, mark: Mark) -> Result<Value, YamlError> {
    let invalid = || YamlError::new(mark, format!("invalid float value '{text}'"));
    let cleaned = text.replace('_', "").to_lowercase();
    let (sign, body) = split_sign(&cleaned);
    let magnitude = if body == ".inf" {
        f64::INFINITY
    } else if body == ".nan" {
        f64::NAN
    } else if body.contains(':') {
        // Base 60, computed as PyYAML does (least significant part first)
        // so that the rounding is the same.
        let mut total = 0.0;
        let mut base = 1.0;
        for part in body.rsplit(':') {
            total += python_float(part).ok_or_else(invalid)? * base;
            base *= 60.0;
        }
        total
    } else {
        python_float(body).ok_or_else(invalid)?
    };
    let value = f64::from(sign) * magnitude;
    Number::from_f64(value).map(Value::Number).ok_or_else(|| {
        YamlError::new(
            mark,
            format!("infinite and NaN values are not supported: '{text}'"),
        )
    })
}

/// Python's `float(text)`, which ignores surrounding whitespace. Rust's
/// parser accepts the same forms once the underscores are gone (`1.`, `.5`,
/// `1e5`, `inf`, `nan`).
fn python_float(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    //! Expected values were checked against PyYAML 6 (`yaml.safe_load`,
    //! then `json.dumps` for the JSON form of keys).

    use super::*;

    /// Loads a document that must succeed and not be empty.
    fn load(text: &str) -> Value {
        match load_str(text) {
            Ok(Some(value)) => value,
            other => panic!("{text:?} should load to a value, got {other:?}"),
        }
    }

    /// The compact JSON text of a loaded document; comparing texts also
    /// checks the order of keys and the kind of numbers (`1` vs `1.0`).
    fn json(text: &str) -> String {
        load(text).to_string()
    }

    /// The value of `x` in a one-key mapping, for scalar tests.
    fn x(text: &str) -> Value {
        load(&format!("x: {text}"))["x"].clone()
    }

    fn error(text: &str) -> YamlError {
        match load_str(text) {
            Err(error) => error,
            Ok(value) => panic!("{text:?} should fail, got {value:?}"),
        }
    }

    /// Asserts that loading fails at the given place with a message
    /// containing `needle`.
    fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
        let error = error(text);
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "position of {error}"
        );
        assert!(
            error.message.contains(needle),
            "{error:?} should mention {needle:?}"
        );
    }

    // --- documents ---------------------------------------------------------

    #[test]
    fn empty_documents_are_none() {
        for text in [
            "",
            "\n\n",
            "# only a comment\n",
            "---",
            "---\n...\n",
            "--- ~",
            "null",
            "~",
            "!!null anything",
        ] {
            assert_eq!(load_str(text), Ok(None), "{text:?}");
        }
    }

    #[test]
    fn a_document_of_an_empty_string_is_not_none() {
        assert_eq!(load("--- !!str"), Value::String(String::new()));
        assert_eq!(load("''"), Value::String(String::new()));
    }

    #[test]
    fn scalar_and_sequence_documents() {
        assert_eq!(json("hello"), r#""hello""#);
        assert_eq!(json("42"), "42");
        assert_eq!(
            json("- a\n- 1\n- [b, {c: d}]"),
            r#"["a",1,["b",{"c":"d"}]]"#
        );
    }

    #[test]
    fn explicit_document_markers() {
        assert_eq!(json("---\na: 1\n...\n"), r#"{"a":1}"#);
        assert_eq!(json("%YAML 1.1\n---\na: 1"), r#"{"a":1}"#);
        assert_eq!(json("a\n...\n# trailing comment\n"), r#""a""#);
    }

    #[test]
    fn more_than_one_document_is_an_error() {
        assert_error(
            "a\n---\nb",
            2,
            1,
            "expected a single document in the stream",
        );
        assert_error("---\na: 1\n---\n", 3, 1, "but found another document");
        assert_error("--- a\n...\n--- b\n", 3, 1, "single document");
    }

    #[test]
    fn nested_structures_keep_key_order() {
        let text = "\
zeta: 1
alpha:
  - one
  - two: 2
    three: 3
middle:
  deeper: {y: 1, b: 2, m: [a, {c: d}]}
";
        assert_eq!(
            json(text),
            r#"{"zeta":1,"alpha":["one",{"two":2,"three":3}],"middle":{"deeper":{"y":1,"b":2,"m":["a",{"c":"d"}]}}}"#
        );
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(json("\u{feff}a: 1"), r#"{"a":1}"#);
    }

    #[test]
    fn comments_and_windows_line_endings() {
        assert_eq!(json("a: b # comment\r\nc: d\r\n"), r#"{"a":"b","c":"d"}"#);
    }

    // --- null and booleans ---------------------------------------------------

    #[test]
    fn null_spellings() {
        assert_eq!(
            json("[~, null, Null, NULL, '', nULL, None, none]"),
            r#"[null,null,null,null,"","nULL","None","none"]"#
        );
        assert_eq!(
            json("a:\nb: ~\nc: !!null x"),
            r#"{"a":null,"b":null,"c":null}"#
        );
    }

    #[test]
    fn none_is_a_string() {
        assert_eq!(x("None"), Value::String("None".into()));
    }

    #[test]
    fn booleans_in_every_listed_spelling() {
        for word in [
            "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(x(word), Value::Bool(true), "{word}");
        }
        for word in [
            "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(x(word), Value::Bool(false), "{word}");
        }
    }

    #[test]
    fn words_that_are_not_booleans() {
        for word in [
            "y", "Y", "n", "N", "yEs", "tRUE", "oN", "nO", "yes!", "truee",
        ] {
            assert_eq!(x(word), Value::String(word.into()), "{word}");
        }
    }

    // --- integers ------------------------------------------------------------

    #[test]
    fn decimal_integers() {
        assert_eq!(
            json("[0, -0, +0, 7, +12, -12, 1_000, 1__0, 9_, 0_, 00]"),
            "[0,0,0,7,12,-12,1000,10,9,0,0]"
        );
    }

    #[test]
    fn octal_hexadecimal_and_binary_integers() {
        assert_eq!(
            json("[017, -017, 0_17, 0x1F, 0x1f, -0x_ff, 0b101, -0b1_01, +0b0]"),
            "[15,-15,15,31,31,-255,5,-5,0]"
        );
    }

    #[test]
    fn strings_that_look_like_integers() {
        for text in [
            "0o17", "09", "019", "0X1F", "0B11", "0x", "0b", "1 2", "12a", "_1", "1,000",
        ] {
            assert_eq!(x(text), Value::String(text.into()), "{text}");
        }
    }

    #[test]
    fn sexagesimal_integers() {
        assert_eq!(
            json("[1:30, 1:0:0, -1:30, +1:30, 1:5:59, 190:20:30, 1_0:00]"),
            "[90,3600,-90,90,3959,685230,600]"
        );
        // A group above 59, a leading zero or a group of three digits is
        // not sexagesimal.
        for text in ["1:70", "1:60", "0:30", "1:100"] {
            assert_eq!(x(text), Value::String(text.into()), "{text}");
        }
    }

    #[test]
    fn integers_at_the_limits_of_64_bits() {
        assert_eq!(x("9223372036854775807"), Value::from(i64::MAX));
        assert_eq!(x("-9223372036854775808"), Value::from(i64::MIN));
        assert_eq!(x("18446744073709551615"), Value::from(u64::MAX));
        assert_eq!(x("0xffffffffffffffff"), Value::from(u64::MAX));
    }

    #[test]
    fn integers_beyond_64_bits_are_errors() {
        assert_error("x: 18446744073709551616", 1, 4, "'18446744073709551616'");
        assert_error("x: -9223372036854775809", 1, 4, "does not fit in 64 bits");
        assert_error(
            "x: 123456789012345678901234567890123456789012345678901234567890",
            1,
            4,
            "does not fit in 64 bits",
        );
    }

    #[test]
    fn malformed_integers_matching_the_pattern_are_errors() {
        // PyYAML raises a ValueError from int() on these.
        assert_error("x: 0b_", 1, 4, "invalid integer value '0b_'");
        assert_error("x: 0x_", 1, 4, "invalid integer value '0x_'");
    }

    // --- floats --------------------------------------------------------------

    #[test]
    fn floats() {
        assert_eq!(
            json(
                "[1.5, 1., -2.5, +2.5, .5, 1.0e+5, 1.e-2, 1.5E-3, 1_0.5, .1_2, 0.0, 3.14159265358979323846]"
            ),
            "[1.5,1.0,-2.5,2.5,0.5,100000.0,0.01,0.0015,10.5,0.12,0.0,3.141592653589793]"
        );
    }

    #[test]
    fn sexagesimal_floats() {
        assert_eq!(
            json("[1:30.5, 190:20:30.15, -1:30.0]"),
            "[90.5,685230.15,-90.0]"
        );
    }

    #[test]
    fn strings_that_look_like_floats() {
        // YAML 1.1 needs a dot and a signed exponent; a leading dot takes no
        // sign.
        for text in [
            "1e5", "1.0e5", "1E+5", "-.5", "+.5", "._", ".", "1.0e", "1.0e+", ".inf.", "inf",
            "nan", "1.2.3",
        ] {
            assert_eq!(x(text), Value::String(text.into()), "{text}");
        }
    }

    #[test]
    fn negative_zero_float() {
        assert_eq!(json("-0.0"), "-0.0");
    }

    #[test]
    fn infinity_and_nan_are_errors() {
        for text in [
            ".inf", "-.inf", "+.Inf", ".INF", ".nan", ".NaN", ".NAN", "1.0e+999",
        ] {
            let error = error(&format!("x: {text}"));
            assert!(
                error
                    .message
                    .contains("infinite and NaN values are not supported")
                    && error.message.contains(text),
                "{error}"
            );
            assert_eq!((error.line, error.column), (1, 4));
        }
    }

    // --- strings -------------------------------------------------------------

    #[test]
    fn timestamps_stay_strings() {
        assert_eq!(
            json("[2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5]"),
            r#"["2001-12-14","2001-12-14t21:59:43.10-05:00","2001-12-14 21:59:43.10 -5"]"#
        );
    }

    #[test]
    fn quoted_and_block_scalars_are_never_resolved() {
        assert_eq!(
            json("['1', \"2\", 'yes', \"null\", '~', \"1.5\", '0x10', \"\", '.inf', \"<<\"]"),
            r#"["1","2","yes","null","~","1.5","0x10","",".inf","<<"]"#
        );
        assert_eq!(
            json("a: |\n  123\nb: >\n  true\nc: |-\n  ~\n"),
            r#"{"a":"123\n","b":"true\n","c":"~"}"#
        );
    }

    #[test]
    fn plain_strings() {
        assert_eq!(
            json("[hello world, a:b, 'it''s', \"tab\\tnew\\nline\", multi\n  line]"),
            r#"["hello world","a:b","it's","tab\tnew\nline","multi line"]"#
        );
    }

    // --- explicit tags -------------------------------------------------------

    #[test]
    fn standard_tags() {
        assert_eq!(
            json(
                "[!!str 123, !!str yes, !!str ~, !!str , !!int \"12\", !!int '0x10', !!float 1, \
                 !!float 1e5, !!float '1:30', !!bool yEs, !!bool 'off', !!null foo]"
            ),
            r#"["123","yes","~","",12,16,1.0,100000.0,90.0,true,false,null]"#
        );
        assert_eq!(json("!!map {a: 1}"), r#"{"a":1}"#);
        assert_eq!(json("!!seq [a]"), r#"["a"]"#);
        assert_eq!(
            json("!<tag:yaml.org,2002:str> 1"),
            r#""1""#,
            "verbatim tags are full tags"
        );
    }

    #[test]
    fn explicit_int_follows_python_int() {
        assert_eq!(
            json("[!!int 0o17, !!int 0x0x1f, !!int --5, !!int 1:-30]"),
            "[15,31,5,30]"
        );
    }

    #[test]
    fn non_specific_tag_resolves_by_content_even_when_quoted() {
        assert_eq!(
            json("[! 123, ! \"123\", ! yes, ! abc]"),
            r#"[123,123,true,"abc"]"#
        );
        assert_eq!(json("a: ! {b: 1}\nc: ! [1]"), r#"{"a":{"b":1},"c":[1]}"#);
    }

    #[test]
    fn unknown_tags_are_errors() {
        assert_error(
            "a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n",
            1,
            4,
            "could not determine a constructor for the tag '!vault'",
        );
        assert_error(
            "a: !!python/object:os.system {}",
            1,
            4,
            "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'",
        );
        assert_error("- !custom [1]", 1, 3, "'!custom'");
    }

    #[test]
    fn standard_tags_without_json_form_are_errors() {
        for (text, tag) in [
            ("a: !!binary aGVsbG8=", "binary"),
            ("a: !!set {x, y}", "set"),
            ("a: !!omap [x: 1]", "omap"),
            ("a: !!pairs [x: 1]", "pairs"),
            ("a: !!timestamp 2001-12-14", "timestamp"),
        ] {
            assert_error(
                text,
                1,
                4,
                &format!("'tag:yaml.org,2002:{tag}' is not supported"),
            );
        }
    }

    #[test]
    fn tags_on_the_wrong_kind_of_node_are_errors() {
        assert_error(
            "!!str {a: 1}",
            1,
            1,
            "expected a scalar node, but found mapping",
        );
        assert_error(
            "!!int [1]",
            1,
            1,
            "expected a scalar node, but found sequence",
        );
        assert_error("!!map a", 1, 1, "expected a mapping node, but found scalar");
        assert_error(
            "!!seq {}",
            1,
            1,
            "expected a sequence node, but found mapping",
        );
    }

    #[test]
    fn invalid_values_for_explicit_tags_are_errors() {
        assert_error("a: !!int abc", 1, 4, "invalid integer value 'abc'");
        assert_error("a: !!int", 1, 4, "invalid integer value ''");
        assert_error("a: !!float x1", 1, 4, "invalid float value 'x1'");
        assert_error("a: !!bool y", 1, 4, "invalid boolean value 'y'");
        assert_error("a: !!float .nan", 1, 4, "not supported");
    }

    #[test]
    fn a_plain_equals_sign_is_an_error_except_as_a_key() {
        // PyYAML resolves `=` to tag:yaml.org,2002:value, which
        // SafeConstructor only accepts as a mapping key.
        assert_error("a: =", 1, 4, "'tag:yaml.org,2002:value'");
        assert_eq!(json("=: 1"), r#"{"=":1}"#);
        assert_eq!(json("a: '='"), r#"{"a":"="}"#);
    }

    // --- anchors and aliases -------------------------------------------------

    #[test]
    fn aliases_copy_scalars_sequences_and_mappings() {
        let text = "\
a: &s scalar
b: *s
c: &l [1, two]
d: *l
e: &m {p: 1, q: [x]}
f: *m
g: &n 017
h: [*n, *s]
";
        assert_eq!(
            json(text),
            r#"{"a":"scalar","b":"scalar","c":[1,"two"],"d":[1,"two"],"e":{"p":1,"q":["x"]},"f":{"p":1,"q":["x"]},"g":15,"h":[15,"scalar"]}"#
        );
    }

    #[test]
    fn anchors_on_block_collections_and_empty_values() {
        assert_eq!(
            json("a: &a\n  - 1\n  - 2\nb: *a\nc: &e\nd: *e\n"),
            r#"{"a":[1,2],"b":[1,2],"c":null,"d":null}"#
        );
        assert_eq!(json("- &x !!str 5\n- *x"), r#"["5","5"]"#);
    }

    #[test]
    fn undefined_alias_is_an_error() {
        assert_error("a: *missing", 1, 4, "found undefined alias 'missing'");
        assert_error(
            "- *later\n- &later 1",
            1,
            3,
            "found undefined alias 'later'",
        );
    }

    #[test]
    fn duplicate_anchor_is_an_error() {
        assert_error(
            "a: &x 1\nb: &x 2\nc: *x",
            2,
            4,
            "found duplicate anchor 'x'; first occurrence at line 1, column 4",
        );
    }

    #[test]
    fn an_anchor_after_a_tag_is_found_across_lines_and_comments() {
        // The parser gives anchors as numbers; their names are read from the text,
        // past the tag and what separates it from the anchor.
        assert_eq!(
            json("a: !!map # c\n  &m\n  k: v\nb: *m"),
            r#"{"a":{"k":"v"},"b":{"k":"v"}}"#
        );
        assert_eq!(json("a: !!str\n  &x 1\nb: *x"), r#"{"a":"1","b":"1"}"#);
        // PyYAML places both occurrences where their nodes start, at the tag here.
        assert_error(
            "a: !t\n  # c\n  &x 1\nb: !!str &x 2",
            4,
            4,
            "found duplicate anchor 'x'; first occurrence at line 1, column 4",
        );
        assert_error(
            "a: !!str\n  &x.y 1",
            2,
            5,
            "while scanning an anchor, expected alphabetic or numeric character, but found '.'",
        );
    }

    #[test]
    fn byte_order_marks_inside_the_text_are_ordinary_characters() {
        // PyYAML skips one only at the very start; the parser would end a scalar at
        // one and refuse it inside a document. Files saved with one and concatenated:
        assert_eq!(json("a: 1\n\u{feff}b: 2\n"), "{\"a\":1,\"\u{feff}b\":2}");
        assert_eq!(
            x("[x\u{feff}y, \u{feff}]"),
            serde_json::json!(["x\u{feff}y", "\u{feff}"])
        );
        assert_eq!(json("a:\n\u{feff}  b: 1"), "{\"a\":null,\"\u{feff}  b\":1}");
        // The stand-in the parser sees is a private-use character the text does not
        // hold: one that is there stays as it is.
        assert_eq!(
            x("\u{e000}\u{feff}\u{e001}"),
            Value::String("\u{e000}\u{feff}\u{e001}".into())
        );
        assert_error(
            "&a\u{feff} x",
            1,
            3,
            "expected alphabetic or numeric character, but found '\\u{feff}'",
        );
    }

    #[test]
    fn anchor_names_are_limited_to_what_pyyaml_reads() {
        assert_eq!(json("- &a-B_9 x\n- *a-B_9"), r#"["x","x"]"#);
        // PyYAML reads `&name:` as an anchor followed by `:`.
        assert_error(
            "- &name:\n    k: v",
            1,
            8,
            "while scanning an anchor, expected alphabetic or numeric character, but found ':'",
        );
        assert_error("a: &x.y 1", 1, 6, "but found '.'");
    }

    #[test]
    fn recursive_alias_is_an_error() {
        assert_error("&a [*a]", 1, 5, "found recursive alias 'a'");
        assert_error("a: &m\n  b: *m", 2, 6, "found recursive alias 'm'");
    }

    #[test]
    fn alias_expansion_is_bounded() {
        // "Billion laughs": nine levels of tenfold aliases.
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..=9 {
            let previous = format!("*l{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        let message = error(&text).message;
        assert!(
            message.contains("aliases expand this value to "),
            "{message}"
        );
        assert!(message.contains("more than 100 times the"), "{message}");
    }

    #[test]
    fn an_alias_bomb_is_refused_naming_its_anchor() {
        // Six levels of nine copies of the level before, under global_overrides: a few
        // hundred bytes that would expand to half a million values in every host.
        let mut text = String::from("global_overrides:\n  b0: &b0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..=6 {
            let items = [format!("*b{}", level - 1).as_str(); 9].join(", ");
            text.push_str(&format!("  b{level}: &b{level} [{items}]\n"));
        }
        let message = error(&text).message;
        assert!(
            message.contains("alias '*b4' copies 66430 values each time"),
            "{message}"
        );

        // Sharing a host list, as deployments do, is fine.
        let mut text =
            String::from("hosts: &hosts {infra1: {ip: 10.0.0.1}, infra2: {ip: 10.0.0.2}}\n");
        for n in 0..60 {
            text.push_str(&format!("group{n}_hosts: *hosts\n"));
        }
        assert!(load_str(&text).is_ok());
    }

    // --- merge keys ----------------------------------------------------------

    #[test]
    fn merge_of_one_mapping() {
        let text = "\
base: &base {p: 1, q: 2}
m:
  <<: *base
  q: 5
  z: 0
";
        assert_eq!(
            json(text),
            r#"{"base":{"p":1,"q":2},"m":{"p":1,"q":5,"z":0}}"#
        );
    }

    #[test]
    fn merge_of_a_sequence_takes_the_mappings_in_reverse_order() {
        // Merged pairs come first, the sequence reversed (b then a), then the
        // own pairs; later pairs overwrite earlier ones but a key stays where
        // it was first inserted: q, r, p, x with q from a.
        let text = "\
a: &a {p: 1, q: 2}
b: &b {q: 3, r: 4}
m:
  <<: [*a, *b]
  x: 1
";
        assert_eq!(
            json(text),
            r#"{"a":{"p":1,"q":2},"b":{"q":3,"r":4},"m":{"q":2,"r":4,"p":1,"x":1}}"#
        );
    }

    #[test]
    fn own_pairs_override_merged_ones_in_place() {
        let text = "\
a: &a {p: 1, q: 2}
m:
  x: 0
  q: 9
  <<: *a
";
        assert_eq!(json(text), r#"{"a":{"p":1,"q":2},"m":{"p":1,"q":9,"x":0}}"#);
    }

    #[test]
    fn several_merge_keys_in_one_mapping() {
        let text = "\
a: &a {p: 1}
b: &b {q: 2}
m:
  <<: *a
  x: 1
  <<: *b
  p: 9
";
        assert_eq!(
            json(text),
            r#"{"a":{"p":1},"b":{"q":2},"m":{"p":9,"q":2,"x":1}}"#
        );
    }

    #[test]
    fn nested_merges() {
        let text = "\
a: &a {p: 1}
b: &b
  <<: *a
  q: 2
c:
  <<: *b
  r: 3
d:
  <<: [{s: 4, <<: *b}, *a]
";
        assert_eq!(
            json(text),
            r#"{"a":{"p":1},"b":{"p":1,"q":2},"c":{"p":1,"q":2,"r":3},"d":{"p":1,"q":2,"s":4}}"#
        );
    }

    #[test]
    fn merge_of_a_mapping_with_duplicate_keys() {
        assert_eq!(
            json("a: &a {p: 1, p: 2, q: 3}\nc:\n  <<: *a"),
            r#"{"a":{"p":2,"q":3},"c":{"p":2,"q":3}}"#
        );
    }

    #[test]
    fn merge_of_an_inline_mapping_and_at_the_top_level() {
        assert_eq!(
            json("<<: {a: 1, b: 2}\nc: 3\na: 0"),
            r#"{"a":0,"b":2,"c":3}"#
        );
    }

    #[test]
    fn only_a_plain_or_merge_tagged_key_merges() {
        assert_eq!(json("m:\n  \"<<\": {a: 1}"), r#"{"m":{"<<":{"a":1}}}"#);
        assert_eq!(
            json("m:\n  !!merge foo: {a: 1}\n  b: 2"),
            r#"{"m":{"a":1,"b":2}}"#
        );
    }

    #[test]
    fn invalid_merge_values_are_errors() {
        assert_error(
            "m:\n  <<: 1",
            2,
            7,
            "expected a mapping or list of mappings for merging, but found scalar",
        );
        assert_error(
            "m:\n  <<: [{a: 1}, 2]",
            2,
            16,
            "expected a mapping for merging, but found scalar",
        );
        assert_error(
            "m:\n  <<: [[{a: 1}]]",
            2,
            8,
            "expected a mapping for merging, but found sequence",
        );
    }

    #[test]
    fn merge_key_outside_a_key_position_is_an_error() {
        assert_error("- <<", 1, 3, "'tag:yaml.org,2002:merge'");
        assert_error("a: <<", 1, 4, "'tag:yaml.org,2002:merge'");
    }

    // --- mapping keys --------------------------------------------------------

    #[test]
    fn duplicate_keys_keep_the_first_position_and_the_last_value() {
        assert_eq!(json("a: 1\nb: 2\na: 3"), r#"{"a":3,"b":2}"#);
        assert_eq!(json("{x: 1, y: 2, x: {z: 3}}"), r#"{"x":{"z":3},"y":2}"#);
    }

    #[test]
    fn non_string_keys_are_converted_like_json_dumps() {
        assert_eq!(
            json("{1: a, -7: b, 0x10: c, 017: d, 1:30: e, on: f, off: g, ~: h, 1.5: i, 2.0: j}"),
            r#"{"1":"f","-7":"b","16":"c","15":"d","90":"e","false":"g","null":"h","1.5":"i","2.0":"j"}"#
        );
        assert_eq!(json("? \n: empty key"), r#"{"null":"empty key"}"#);
    }

    #[test]
    fn float_keys_use_python_repr() {
        assert_eq!(
            json(
                "{!!float 1e16: a, 0.00001: b, 0.0001: c, 1.0e+15: d, 123456789.125: e, \
                 !!float -1e-7: f, -0.0: g, 1.5e+300: h}"
            ),
            r#"{"1e+16":"a","1e-05":"b","0.0001":"c","1000000000000000.0":"d","123456789.125":"e","-1e-07":"f","-0.0":"g","1.5e+300":"h"}"#
        );
    }

    #[test]
    fn keys_equal_in_python_are_the_same_key() {
        // 1 == 1.0 == True and 0 == -0.0 == False in a Python dict: the first
        // key written gives the text, the last value wins.
        assert_eq!(json("{1: a, 1.0: b, true: c}"), r#"{"1":"c"}"#);
        assert_eq!(json("{true: a, 1: b}"), r#"{"true":"b"}"#);
        assert_eq!(json("{-0.0: a, 0: b, false: c}"), r#"{"-0.0":"c"}"#);
        assert_eq!(json("{null: a, ~: b, '': c}"), r#"{"null":"b","":"c"}"#);
    }

    #[test]
    fn keys_with_the_same_json_text_keep_the_last_value() {
        assert_eq!(json("{1: a, '1': b}"), r#"{"1":"b"}"#);
    }

    #[test]
    fn sequence_and_mapping_keys_are_errors() {
        assert_error("? [1]\n: 2", 1, 3, "found unhashable key");
        assert_error("? {a: 1}\n: 2", 1, 3, "found unhashable key");
        assert_error("[a, b]: c", 1, 1, "found unhashable key");
        // An alias is reported where its anchored node is, as PyYAML does.
        assert_error("a: &l [1]\n*l : 2", 1, 4, "found unhashable key");
    }

    // --- syntax and reader errors --------------------------------------------

    #[test]
    fn syntax_errors_carry_their_position() {
        assert_error("a: [1, 2", 2, 1, "while parsing a flow sequence");
        assert_error("a: 'unterminated", 1, 4, "while scanning a quoted scalar");
        // PyYAML: "expected <block end>, but found '<block mapping start>'" at line 3,
        // column 2, where the second mapping starts (yaml-rust2 said column 3).
        assert_error("a:\n  - b\n c: d", 3, 2, "did not find expected key");
    }

    #[test]
    fn non_printable_characters_are_errors() {
        assert_error(
            "a: b\nc: d\u{1}",
            2,
            5,
            "unacceptable character #x0001: special characters are not allowed",
        );
        assert_error("\u{7f}", 1, 1, "#x007f");
        // An escape in a double-quoted scalar is fine.
        assert_eq!(x("\"\\x01\""), Value::String("\u{1}".into()));
    }

    /// The excerpt of the error loading `text` fails with, and the error.
    fn excerpt_of(text: &str) -> (YamlError, String) {
        let error = error(text);
        let excerpt = error.excerpt(text);
        (error, excerpt)
    }

    #[test]
    fn an_excerpt_quotes_the_line_with_a_caret_under_the_column() {
        let (error, excerpt) = excerpt_of("a: 1\nfoo:\n  bar: baz: qux\n");
        assert_eq!((error.line, error.column), (3, 11));
        assert_eq!(excerpt, "  3 |   bar: baz: qux\n    |           ^");
        // The gutter is as wide as the line number.
        let text = format!("{}x: y: z\n", "a: 1\n".repeat(11));
        assert_eq!(excerpt_of(&text).1, "  12 | x: y: z\n     |     ^");
        // At the end of the text, past its last line break: an empty line.
        assert_eq!(excerpt_of("k: [a,\n").1, "  2 |\n    | ^");
    }

    #[test]
    fn an_excerpt_places_the_caret_past_tabs_and_multibyte_characters() {
        // Columns count characters; a tab is shown escaped, as the message shows
        // control characters, so the caret moves past its two characters.
        let (error, excerpt) = excerpt_of("x:\té: ü: 1\n");
        assert_eq!((error.line, error.column), (1, 5));
        assert_eq!(excerpt, "  1 | x:\\té: ü: 1\n    |      ^");
        let (error, excerpt) = excerpt_of("ключ: \"значение\": 1\n");
        assert_eq!((error.line, error.column), (1, 17));
        assert_eq!(
            excerpt,
            "  1 | ключ: \"значение\": 1\n    |                 ^"
        );
        // A byte order mark at the start is not a column, as for the reader.
        let (error, excerpt) = excerpt_of("\u{feff}a: b: c");
        assert_eq!((error.line, error.column), (1, 5));
        assert_eq!(excerpt, "  1 | a: b: c\n    |     ^");
    }

    #[test]
    fn an_excerpt_counts_lines_as_the_reader_does() {
        let (error, excerpt) = excerpt_of("a: 1\r\nb: 2\rc: d: e\r\n");
        assert_eq!((error.line, error.column), (3, 5));
        assert_eq!(excerpt, "  3 | c: d: e\n    |     ^");
    }

    #[test]
    fn an_excerpt_cannot_put_escapes_or_line_breaks_on_the_screen() {
        // NEL, a line separator, a right-to-left override and a zero-width space
        // before the error (all printable for PyYAML); the excerpt stays two lines of
        // visible text and the caret stays under the offending character.
        let text = "k: \"\u{85}\u{2028}\u{202e}\u{200b}\": v: w\n";
        let (error, excerpt) = excerpt_of(text);
        assert_eq!((error.line, error.column), (1, 10));
        assert_eq!(
            excerpt,
            "  1 | k: \"\\u{85}\\u{2028}\\u{202e}\\u{200b}\": v: w\n\
             \x20   |                                    ^"
        );
        assert_eq!(excerpt.lines().count(), 2);
        assert!(!excerpt.chars().any(|ch| ch.is_control() && ch != '\n'));
        // An error about the character itself (refused by the reader) quotes it
        // escaped too.
        let (error, excerpt) = excerpt_of("a: b\u{1b}]0;title\u{7}\n");
        assert_eq!((error.line, error.column), (1, 5));
        assert_eq!(excerpt, "  1 | a: b\\u{1b}]0;title\\u{7}\n    |     ^");
    }

    #[test]
    fn an_excerpt_cuts_a_long_line_around_the_column() {
        let text = format!("k: {}: z\n", "y".repeat(300));
        let (error, excerpt) = excerpt_of(&text);
        assert_eq!((error.line, error.column), (1, 304));
        let lines: Vec<&str> = excerpt.lines().collect();
        assert_eq!(lines.len(), 2);
        let quoted = lines[0].strip_prefix("  1 | ").unwrap();
        assert!(quoted.chars().count() <= EXCERPT_WIDTH, "{quoted}");
        assert!(
            quoted.starts_with("...y") && quoted.ends_with("y: z"),
            "{quoted}"
        );
        // The caret is under the colon.
        let caret = lines[1].strip_prefix("    | ").unwrap();
        assert_eq!(caret.trim_start(), "^");
        assert_eq!(quoted.chars().nth(caret.len() - 1), Some(':'));
        assert_eq!(quoted.chars().nth(caret.len() - 2), Some('y'));

        // Cut at both ends when the column is in the middle.
        let text = format!("k: {}: {}\n", "x".repeat(300), "y".repeat(300));
        let (error, excerpt) = excerpt_of(&text);
        assert_eq!((error.line, error.column), (1, 304));
        let lines: Vec<&str> = excerpt.lines().collect();
        let quoted = lines[0].strip_prefix("  1 | ").unwrap();
        assert_eq!(quoted.chars().count(), EXCERPT_WIDTH);
        assert!(
            quoted.starts_with("...x") && quoted.ends_with("y..."),
            "{quoted}"
        );
        let caret = lines[1].strip_prefix("    | ").unwrap();
        assert_eq!(quoted.chars().nth(caret.len() - 1), Some(':'));
    }

    #[test]
    fn error_display() {
        let error = error("a: *nope");
        assert_eq!(
            error.to_string(),
            "line 1, column 4: found undefined alias 'nope'"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        assert!(boxed.to_string().starts_with("line 1"));
    }

    #[test]
    fn deep_nesting_is_accepted_up_to_the_limit() {
        // `- - - x` nests block sequences on one line.
        let text = format!("{}x", "- ".repeat(MAX_DEPTH));
        let mut value = &load(&text);
        for _ in 0..MAX_DEPTH {
            value = &value[0];
        }
        assert_eq!(value, &Value::String("x".into()));

        let text = format!("{}x", "- ".repeat(MAX_DEPTH + 1));
        assert!(error(&text).message.contains("nested more than"));
    }

    #[test]
    fn flow_nesting_is_limited_too() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(load_str(&text).is_ok());
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(error(&text).message.contains("nested more than"));
        // Far beyond: the parser's own limit (255) answers first, still an error.
        let text = format!("{}{}", "[".repeat(300), "]".repeat(300));
        assert!(load_str(&text).is_err());
    }

    #[test]
    fn depth_brought_by_aliases_is_bounded() {
        let mut text = String::from("a0: &a0 [x]\n");
        for level in 1..=MAX_DEPTH {
            text.push_str(&format!("a{level}: &a{level} [*a{}]\n", level - 1));
        }
        assert!(error(&text).message.contains("nested more than"));
    }

    #[test]
    fn bad_input_never_panics() {
        let fragments = [
            "a",
            ": ",
            " ",
            "\n",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ",",
            "? ",
            "&x ",
            "*x",
            "!!str ",
            "!t ",
            "<<",
            "'",
            "\"",
            "|",
            ">",
            "#",
            "---",
            "...",
            "\t",
            "1",
            "%TAG ! t:\n",
            "\\",
            "é",
        ];
        // A small deterministic generator (xorshift) over YAML fragments.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let length = next() % 24;
            let text: String = (0..length)
                .map(|_| fragments[(next() % fragments.len() as u64) as usize])
                .collect();
            let _ = load_str(&text);
        }
    }

    // --- helpers -------------------------------------------------------------

    #[test]
    fn python_float_repr_matches_python() {
        for (value, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (-2.5e-10, "-2.5e-10"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(python_float_repr(value), text);
        }
    }

    #[test]
    fn implicit_patterns() {
        for text in [
            "0", "-0", "017", "0_", "0b1", "0x_a", "1_000", "1:30", "+1:5:59",
        ] {
            assert!(is_int(text), "{text}");
        }
        for text in [
            "", "-", "0b", "0x", "08", "0o7", "1:60", "01:30", "1e5", "1.0",
        ] {
            assert!(!is_int(text), "{text}");
        }
        for text in [
            "1.", "-1.5", ".5", "._5", "1.0e+5", "1:30.", "-.inf", ".NaN",
        ] {
            let expected = text != "._5";
            assert_eq!(is_float(text), expected, "{text}");
        }
        for text in [
            "", ".", "1", "-.5", "1e5", "1.0e5", "-.nan", ".Nan", "1:60.0",
        ] {
            assert!(!is_float(text), "{text}");
        }
    }
}
