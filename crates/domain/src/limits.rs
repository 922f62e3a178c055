//! Which logins and group names the MFA directory accepts (product.md §2.3).

use crate::DomainError;
use crate::service::ServiceParams;

/// Characters a login may hold besides letters and digits. The backslash is accepted because
/// TrustBuilder accepts it, though Entra never sends one.
pub const DEFAULT_LOGIN_EXTRA_CHARS: &str = "._-@+\\";

/// Checks a login against the service's limits. The refusal names the first offending
/// character and its 1-based position, or the length limit.
pub fn check_login(login: &str, params: &ServiceParams) -> Result<(), DomainError> {
    let len = login.chars().count();
    if len == 0 {
        return Err(DomainError::InvalidValue("userName must not be empty".into()));
    }
    if len > params.login_max_length {
        return Err(DomainError::InvalidValue(format!(
            "userName is {len} characters long; the MFA login allows at most {}",
            params.login_max_length
        )));
    }
    for (i, c) in login.chars().enumerate() {
        if !(c.is_alphanumeric() || params.login_extra_chars.contains(c)) {
            return Err(DomainError::InvalidValue(format!(
                "userName {login:?} contains the character {c:?} at position {}, which an MFA \
                 login does not accept (allowed: letters, digits and {})",
                i + 1,
                params.login_extra_chars.chars().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
            )));
        }
    }
    Ok(())
}

/// Checks a group name's length (uniqueness is the store's job).
pub fn check_group_name(name: &str, params: &ServiceParams) -> Result<(), DomainError> {
    let len = name.chars().count();
    if len == 0 {
        return Err(DomainError::InvalidValue("displayName must not be empty".into()));
    }
    if len > params.group_name_max_length {
        return Err(DomainError::InvalidValue(format!(
            "group displayName is {len} characters long; the limit is {}",
            params.group_name_max_length
        )));
    }
    Ok(())
}

/// Case-insensitive comparison key for logins and group names (RFC 7643 `caseExact: false`).
/// The same key serves the uniqueness index and the `eq` filter, so a filter always finds what
/// a create would collide with.
pub fn fold_key(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_offending_character_and_position() {
        let p = ServiceParams::default();
        let err = check_login("o'brien@contoso.com", &p).unwrap_err();
        assert!(err.to_string().contains("'\\''") && err.to_string().contains("position 2"), "{err}");
        assert!(check_login("first.last+tag@contoso.com", &p).is_ok());
        assert!(check_login("DOMAIN\\user", &p).is_ok());
    }

    #[test]
    fn length_limits() {
        let p = ServiceParams { login_max_length: 5, group_name_max_length: 3, ..Default::default() };
        assert!(check_login("abcdef", &p).unwrap_err().to_string().contains("at most 5"));
        assert!(check_group_name("abcd", &p).unwrap_err().to_string().contains("limit is 3"));
        assert!(check_group_name("", &p).is_err());
    }
}
