//! Schema definitions and discovery documents (RFC 7643 §7, §8.7, RFC 7644 §4).
//! TODO(helper B): implement.
