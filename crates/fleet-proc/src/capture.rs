//! A child's output kept within a byte cap: the head, and a rolling tail.

use std::collections::VecDeque;

/// Output bytes kept within a bound: the first and the last half of `max` bytes, and a
/// count of what was cut from the middle.
#[derive(Debug)]
pub struct Capture {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    omitted: u64,
}

impl Capture {
    pub fn new(max: usize) -> Capture {
        Capture {
            half: (max / 2).max(1),
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        let room = self.half.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(self.half);
        if excess > 0 {
            self.tail.drain(..excess);
            self.omitted += excess as u64;
        }
    }

    /// Bytes cut from the middle.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// What was kept, lossily decoded, with a line saying how much was cut.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.omitted > 0 {
            text.push_str(&format!(
                "\n[fuzzfleet: {} bytes of output omitted]\n",
                self.omitted
            ));
        }
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        text.push_str(&String::from_utf8_lossy(&tail));
        text
    }
}

/// Splits a byte stream into lines (without their `\n` or `\r\n`) for a callback; a
/// line longer than `max_line` is handed over in pieces, so a child that never prints a
/// newline cannot grow it without bound.
#[derive(Debug)]
pub(crate) struct Lines {
    pending: Vec<u8>,
    max_line: usize,
}

impl Lines {
    pub(crate) fn new(max_line: usize) -> Lines {
        Lines {
            pending: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8], on_line: &mut dyn FnMut(&str)) {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            self.pending.extend_from_slice(piece);
            if piece.ends_with(b"\n") {
                self.emit(on_line);
            } else {
                while self.pending.len() >= self.max_line {
                    let rest = self.pending.split_off(self.max_line);
                    self.emit(on_line);
                    self.pending = rest;
                }
            }
        }
    }

    /// Hands over a last line that had no newline.
    pub(crate) fn finish(&mut self, on_line: &mut dyn FnMut(&str)) {
        if !self.pending.is_empty() {
            self.emit(on_line);
        }
    }

    fn emit(&mut self, on_line: &mut dyn FnMut(&str)) {
        let mut line = &self.pending[..];
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        on_line(&String::from_utf8_lossy(line));
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut capture = Capture::new(8);
        capture.push(b"abcdefghij");
        capture.push(b"klmnop");
        assert_eq!(
            capture.text(),
            "abcd\n[fuzzfleet: 8 bytes of output omitted]\nmnop"
        );
        assert_eq!(capture.omitted(), 8);
    }

    #[test]
    fn lines_are_split_across_chunks_and_long_ones_cut() {
        let mut got = Vec::new();
        let mut lines = Lines::new(4);
        let mut on = |l: &str| got.push(l.to_string());
        lines.push(b"ab", &mut on);
        lines.push(b"c\r\nd\n\nabcdefghi", &mut on);
        lines.push(b"j", &mut on);
        lines.finish(&mut on);
        assert_eq!(got, ["abc", "d", "", "abcd", "efgh", "ij"]);
    }
}
