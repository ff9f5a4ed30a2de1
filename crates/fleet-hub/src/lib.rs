//! The hub: the shared store nodes sync corpora, crashes and heartbeats through.
