//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).
//! TODO(helper A): implement.
