//! From byte spans to what users read: the 1-based line and the dotted key path.
//!
//! The file is parsed once more into toml's spanned document tree (which also recovers
//! from syntax errors), and every key and value is recorded with its span and path.
//! A span is then named by the smallest recorded node that contains its start. This
//! way serde's errors (which carry only a span) and validation's errors get their keys
//! by one rule, and the two can never disagree.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Line and key lookup for one config file.
pub(crate) struct Locator<'a> {
    text: &'a str,
    nodes: Vec<Node>,
}

struct Node {
    span: Range<usize>,
    path: String,
    depth: usize,
    /// A table opened by a `[header]` or `[[header]]` line: the fallback owner of
    /// the lines below it.
    is_header: bool,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str, root: &DeTable<'_>) -> Self {
        let mut locator = Locator {
            text,
            nodes: Vec::new(),
        };
        locator.walk_table(root, "", 0);
        locator
    }

    fn walk_table(&mut self, table: &DeTable<'_>, prefix: &str, depth: usize) {
        for (key, value) in table.iter() {
            let path = join_key(prefix, key.get_ref());
            self.nodes.push(Node {
                span: key.span(),
                path: path.clone(),
                depth: depth + 1,
                is_header: false,
            });
            self.walk_value(value, path, depth + 1);
        }
    }

    fn walk_value(&mut self, value: &Spanned<DeValue<'_>>, path: String, depth: usize) {
        let span = value.span();
        let is_table = matches!(value.get_ref(), DeValue::Table(_));
        self.nodes.push(Node {
            is_header: is_table && self.text.as_bytes().get(span.start) == Some(&b'['),
            span,
            path: path.clone(),
            depth,
        });
        match value.get_ref() {
            DeValue::Table(table) => self.walk_table(table, &path, depth),
            DeValue::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    self.walk_value(item, format!("{path}[{i}]"), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        1 + self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// The dotted key a span belongs to; empty when nothing in the file owns it.
    pub fn key(&self, span: &Range<usize>) -> String {
        let at = span.start;
        let contains = |s: &Range<usize>| (s.start <= at && at < s.end) || s == &(at..at);
        if let Some(node) = self
            .nodes
            .iter()
            .filter(|n| contains(&n.span))
            .min_by_key(|n| (n.span.len(), std::cmp::Reverse(n.depth)))
        {
            return node.path.clone();
        }
        // Only syntax errors get here: the recovered tree has a hole where they are.
        let line = self.line(at);
        let line_text = self.text.lines().nth(line - 1).unwrap_or("").trim();
        if line_text.starts_with('[') {
            // A broken `[header]`: the recovered tree is unreliable, the text is not.
            let inner = line_text.split('#').next().unwrap_or("");
            let inner = inner.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace());
            return if is_dotted_key(inner) {
                inner.to_owned()
            } else {
                String::new()
            };
        }
        if let Some(node) = self
            .nodes
            .iter()
            .filter(|n| n.span.start <= at && self.line(n.span.start) == line)
            .max_by_key(|n| (n.span.start, n.depth))
        {
            return node.path.clone();
        }
        let header = self
            .nodes
            .iter()
            .filter(|n| n.is_header && n.span.end <= at)
            .max_by_key(|n| n.span.start)
            .map(|n| n.path.as_str())
            .unwrap_or("");
        // A bare key the parser refused (a duplicate, say) is still the best name.
        let token = self.text.get(span.clone()).unwrap_or("").trim();
        if !token.is_empty() && is_bare_key(token) {
            return join_key(header, token);
        }
        header.to_owned()
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A dotted key as it may stand in a header, bare segments only.
fn is_dotted_key(key: &str) -> bool {
    key.split('.').all(|seg| is_bare_key(seg.trim()))
}

/// Appends a key to a dotted path, quoting it as TOML would when it is not bare.
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    let key = if is_bare_key(key) {
        key.to_owned()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_at(text: &str, needle: &str) -> (usize, String) {
        let (root, _errors) = DeTable::parse_recoverable(text);
        let locator = Locator::new(text, root.get_ref());
        let at = text.find(needle).unwrap();
        (locator.line(at), locator.key(&(at..at + needle.len())))
    }

    const DOC: &str = r#"workers = 3

[[target]]
name = "a"

[[target]]
name = "b"
dict = "x.dict"

[tier."odd.name"]
targets = ["a", "b"]
budget = "1h"
"#;

    #[test]
    fn names_keys_values_and_array_items() {
        assert_eq!(key_at(DOC, "workers"), (1, "workers".into()));
        assert_eq!(key_at(DOC, "3"), (1, "workers".into()));
        assert_eq!(key_at(DOC, "\"x.dict\""), (8, "target[1].dict".into()));
        assert_eq!(
            key_at(DOC, "\"b\"]"),
            (11, "tier.\"odd.name\".targets[1]".into())
        );
        assert_eq!(key_at(DOC, "[tier"), (10, "tier.\"odd.name\"".into()));
    }

    #[test]
    fn names_the_second_table_of_an_array() {
        let text = DOC;
        let (root, _) = DeTable::parse_recoverable(text);
        let locator = Locator::new(text, root.get_ref());
        let second = text.match_indices("[[target]]").nth(1).unwrap().0;
        assert_eq!(locator.key(&(second..second + 10)), "target[1]");
    }

    #[test]
    fn names_syntax_errors_from_the_recovered_tree() {
        let text = "[tier.x]\ntargets = [\"a\"]\nbudget = 48h\n";
        let (root, errors) = DeTable::parse_recoverable(text);
        let span = errors[0].span().unwrap();
        let locator = Locator::new(text, root.get_ref());
        assert_eq!(
            (locator.line(span.start), locator.key(&span)),
            (3, "tier.x.budget".into())
        );

        let text = "[[target]\nname = \"a\"\n";
        let (root, errors) = DeTable::parse_recoverable(text);
        let span = errors[0].span().unwrap();
        let locator = Locator::new(text, root.get_ref());
        assert_eq!(
            (locator.line(span.start), locator.key(&span)),
            (1, "target".into())
        );

        let text = "[tier.x]\nbudget = \"1h\"\nbudget = \"2h\"\n";
        let (root, errors) = DeTable::parse_recoverable(text);
        let span = errors[0].span().unwrap();
        let locator = Locator::new(text, root.get_ref());
        assert_eq!(
            (locator.line(span.start), locator.key(&span)),
            (3, "tier.x.budget".into())
        );
    }
}
