#![allow(missing_docs, unreachable_pub, reason = "a test crate: nothing here is public API")]
