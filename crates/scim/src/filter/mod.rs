//! SCIM filters (RFC 7644 §3.4.2.2): AST, parser, canonical printer and evaluator.

mod ast;
pub(crate) mod eval;
pub(crate) mod parser;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use eval::{AttributeTypes, ValueKind, matches};
pub use parser::{MAX_FILTER_DEPTH, MAX_FILTER_LEN, parse_attr_path, parse_filter};
