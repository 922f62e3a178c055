//! PATCH (RFC 7644 §3.5.2) with Entra ID's dialects.
//! TODO(helper B): implement.
