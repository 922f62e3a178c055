//! ListResponse and pagination (RFC 7644 §3.4.2, §3.4.2.4) and sorting (§3.4.2.3).
//! TODO(helper A): implement.
